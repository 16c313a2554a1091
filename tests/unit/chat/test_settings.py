import pytest

from backend.chat.settings import (
    NON_THINKING_DEFAULTS,
    THINKING_DEFAULTS,
    SamplingSettings,
    SettingsState,
    clamp,
    defaults_for,
)


def test_qwen3_published_defaults_per_mode():
    on, off = defaults_for(True), defaults_for(False)
    assert (on.temperature, on.top_p, on.top_k, on.min_p) == (0.6, 0.95, 20, 0.0)
    assert (off.temperature, off.top_p, off.top_k, off.min_p) == (0.7, 0.8, 20, 0.0)
    assert THINKING_DEFAULTS != NON_THINKING_DEFAULTS


def test_defaults_follow_the_mode_until_changed():
    state = SettingsState()
    assert state.for_message(False).temperature == 0.7
    state.update({"temperature": 1.1, "top_p": 0.95})  # top_p unchanged from the panel
    assert state.for_message(False).temperature == 1.1
    assert state.for_message(True).temperature == 1.1
    assert state.for_message(False).top_p == 0.8  # still the mode's default
    assert state.for_message(True).top_p == 0.95


def test_non_sampling_fields_apply_in_both_modes():
    state = SettingsState()
    state.update({"system_prompt": "Be brief.", "max_tokens": 300})
    assert state.for_message(False).system_prompt == "Be brief."
    assert state.for_message(True).max_tokens == 300


@pytest.mark.parametrize(
    "raw,field,value,note",
    [
        ({"temperature": 5}, "temperature", 2, "above 2"),
        ({"temperature": -1}, "temperature", 0, "out of range"),
        ({"top_p": 0}, "top_p", 0.01, "out of range"),
        ({"top_k": -5}, "top_k", -1, "out of range"),
        ({"max_tokens": "12.6"}, "max_tokens", 13, None),
        ({"min_p": "abc"}, "min_p", 0.0, "not a number"),
        ({"presence_penalty": float("nan")}, "presence_penalty", 0.0, "not a number"),
        ({"thinking_budget": 10**9}, "thinking_budget", 131072, "above"),
    ],
)
def test_clamp_with_visible_notes(raw, field, value, note):
    settings, notes = clamp(raw, SamplingSettings())
    assert getattr(settings, field) == value
    if note:
        assert len(notes) == 1 and note in notes[0] and field in notes[0]
    else:
        assert notes == []


def test_long_system_prompt_trimmed_with_note():
    settings, notes = clamp({"system_prompt": "x" * 9000}, SamplingSettings())
    assert len(settings.system_prompt) == 8000
    assert "trimmed" in notes[0]


def test_request_params():
    params = SamplingSettings(max_tokens=0).request_params(thinking=False)
    assert "max_tokens" not in params  # 0 = let the server use the context
    assert params["extra_body"]["chat_template_kwargs"] == {"enable_thinking": False}
