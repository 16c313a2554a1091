from chainlit.input_widget import NumberInput, Slider, TextInput

from backend.chat.panel import build_widgets
from backend.chat.settings import SAMPLING_FIELDS, SamplingSettings, defaults_for


def test_panel_is_built_from_the_model():
    widgets = build_widgets(defaults_for(True), mode_fields=SAMPLING_FIELDS)
    assert [w.id for w in widgets] == list(SamplingSettings.model_fields)
    by_id = {w.id: w for w in widgets}
    assert isinstance(by_id["system_prompt"], TextInput) and by_id["system_prompt"].multiline
    temperature = by_id["temperature"]
    assert isinstance(temperature, Slider)
    assert (temperature.min, temperature.max, temperature.initial) == (0, 2, 0.6)
    assert isinstance(by_id["max_tokens"], NumberInput)
    assert isinstance(by_id["thinking_budget"], NumberInput)
    assert "mode" in by_id["top_p"].description  # says it follows the message's mode
    assert "mode" not in by_id["max_tokens"].description
