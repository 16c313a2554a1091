"""The Chainlit settings panel, built from `SamplingSettings` (no second list of fields).

Bounded floats with a ``step`` become sliders, other numbers number inputs, text a
multiline input. Labels come from the field names, tooltips from their descriptions.
"""

from __future__ import annotations

from chainlit.input_widget import InputWidget, NumberInput, Slider, TextInput

from backend.chat.settings import SamplingSettings, field_bounds

MODE_HINT = " Follows the message's mode (Think or not) until you change it."


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def build_widgets(current: SamplingSettings, *, mode_fields: tuple[str, ...]) -> list[InputWidget]:
    widgets: list[InputWidget] = []
    for name, info in SamplingSettings.model_fields.items():
        value = getattr(current, name)
        help_text = (info.description or "") + (MODE_HINT if name in mode_fields else "")
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        low, _, high = field_bounds(name)
        if isinstance(value, str):
            widgets.append(
                TextInput(
                    id=name,
                    label=_label(name),
                    initial=value,
                    multiline=True,
                    placeholder="You are a helpful assistant.",
                    description=help_text,
                )
            )
        elif isinstance(step := extra.get("step"), float) and low is not None and high is not None:
            widgets.append(
                Slider(
                    id=name,
                    label=_label(name),
                    initial=value,
                    min=low,
                    max=high,
                    step=step,
                    description=help_text,
                )
            )
        else:
            widgets.append(
                NumberInput(id=name, label=_label(name), initial=value, description=help_text)
            )
    return widgets
