import pytest

from backend.chat.modes import resolve_mode


@pytest.mark.parametrize(
    "text,button,thinking,sent",
    [
        ("What is 2+2?", True, True, "What is 2+2?"),
        ("What is 2+2?", False, False, "What is 2+2?"),
        ("What is 2+2? /no_think", True, False, "What is 2+2?"),
        ("What is 2+2? /think", False, True, "What is 2+2?"),
        ("hi /think  ", False, True, "hi"),
        ("a/think", False, False, "a/think"),  # not a suffix switch
        ("/think about it", False, False, "/think about it"),
        ("/no_think", True, False, ""),
    ],
)
def test_resolve_mode(text, button, thinking, sent):
    mode = resolve_mode(text, button_on=button)
    assert (mode.thinking, mode.text) == (thinking, sent)
    assert mode.label == ("Think" if thinking else "No think")
