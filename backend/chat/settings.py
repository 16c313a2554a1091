"""Sampling settings: one validated model drives the panel, the clamping and the request.

Defaults follow Qwen3's published per-mode values and switch with each message's mode
for every field the user has not changed (`SettingsState`). Out-of-range values are
clamped and reported in plain words; unusable values keep the previous value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SYSTEM_PROMPT_MAX_CHARS = 8000


class SamplingSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    system_prompt: str = Field(
        "", max_length=SYSTEM_PROMPT_MAX_CHARS, description="Instructions sent before the chat."
    )
    temperature: float = Field(
        0.6, ge=0, le=2, description="Randomness; 0 is greedy.", json_schema_extra={"step": 0.05}
    )
    top_p: float = Field(
        0.95, gt=0, le=1, description="Nucleus sampling mass.", json_schema_extra={"step": 0.05}
    )
    top_k: int = Field(20, ge=-1, le=1000, description="Keep the k likeliest tokens; -1 = all.")
    min_p: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Drop tokens below this share of the top.",
        json_schema_extra={"step": 0.01},
    )
    presence_penalty: float = Field(
        0.0,
        ge=-2,
        le=2,
        description="Discourage repeating tokens (0–2 helps endless loops).",
        json_schema_extra={"step": 0.1},
    )
    max_tokens: int = Field(
        0,
        ge=0,
        le=131072,
        description="Answer length limit in tokens; 0 = what the context allows.",
    )
    thinking_budget: int = Field(
        0, ge=0, le=131072, description="Most reasoning tokens before answering; 0 = no limit."
    )

    def request_params(self, *, thinking: bool) -> dict[str, Any]:
        """Parameters for /v1/chat/completions; vLLM's own ones go through extra_body.

        The thinking budget uses vLLM's native ``thinking_token_budget``: when it is
        spent, vLLM forces the end-of-thinking text set by the launcher's
        ``--reasoning-config`` and the model answers.
        """
        extra: dict[str, Any] = {
            "top_k": self.top_k,
            "min_p": self.min_p,
            "chat_template_kwargs": {"enable_thinking": thinking},
        }
        if thinking and self.thinking_budget:
            extra["thinking_token_budget"] = self.thinking_budget
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "presence_penalty": self.presence_penalty,
            "extra_body": extra,
        }
        if self.max_tokens:
            params["max_tokens"] = self.max_tokens
        return params


SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "min_p", "presence_penalty")
THINKING_DEFAULTS = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}
NON_THINKING_DEFAULTS = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0}


def defaults_for(thinking: bool) -> SamplingSettings:
    return SamplingSettings(**(THINKING_DEFAULTS if thinking else NON_THINKING_DEFAULTS))


def field_bounds(name: str) -> tuple[float | None, bool, float | None]:
    """(low, low_inclusive, high) from the field's Field(ge/gt/le) metadata."""
    low, inclusive, high = None, True, None
    for meta in SamplingSettings.model_fields[name].metadata:
        if getattr(meta, "ge", None) is not None:
            low, inclusive = meta.ge, True
        if getattr(meta, "gt", None) is not None:
            low, inclusive = meta.gt, False
        if getattr(meta, "le", None) is not None:
            high = meta.le
    return low, inclusive, high


def _coerce(name: str, raw: Any) -> Any:
    annotation = SamplingSettings.model_fields[name].annotation
    if annotation is str:
        return "" if raw is None else str(raw)
    if isinstance(raw, str):
        raw = raw.strip()
    number = float(raw)  # ValueError/TypeError for text that is not a number
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return int(round(number)) if annotation is int else number


def clamp(raw: dict[str, Any], previous: SamplingSettings) -> tuple[SamplingSettings, list[str]]:
    """Validate panel values: clamp what is out of range, keep ``previous`` for junk."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name in SamplingSettings.model_fields:
        if name not in raw:
            continue
        try:
            value = _coerce(name, raw[name])
        except (TypeError, ValueError):
            notes.append(f"{name}: {raw[name]!r} is not a number; kept {getattr(previous, name)}.")
            continue
        value, note = _clamp_one(name, value)
        if note:
            notes.append(note)
        values[name] = value
    return previous.model_copy(update=values), notes


def _clamp_one(name: str, value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str):
        if len(value) > SYSTEM_PROMPT_MAX_CHARS:
            cut = value[:SYSTEM_PROMPT_MAX_CHARS]
            return cut, f"{name} is limited to {SYSTEM_PROMPT_MAX_CHARS} characters; trimmed."
        return value, None
    low, inclusive, high = field_bounds(name)
    if low is not None and (value < low or (value == low and not inclusive)):
        fixed = low if inclusive else low + 0.01
        return fixed, f"{name} {value:g} is out of range; set to {fixed:g}."
    if high is not None and value > high:
        return high, f"{name} {value:g} is above {high:g}; set to {high:g}."
    return value, None


@dataclass
class SettingsState:
    """What the panel shows, and which sampling fields the user chose by hand."""

    current: SamplingSettings = field(default_factory=lambda: defaults_for(True))
    overridden: set[str] = field(default_factory=set)

    def update(self, raw: dict[str, Any]) -> list[str]:
        before = self.current
        self.current, notes = clamp(raw, before)
        for name in SAMPLING_FIELDS:
            if getattr(self.current, name) != getattr(before, name):
                self.overridden.add(name)
        return notes

    def for_message(self, thinking: bool, budget: int | None = None) -> SamplingSettings:
        """Settings for one message: its mode's presets for fields not set by hand, and
        ``budget`` (the composer's pick; None = the panel's) as the thinking budget."""
        if budget is not None:
            return self.for_message(thinking).model_copy(update={"thinking_budget": budget})
        mode = defaults_for(thinking)
        keep = {n: getattr(self.current, n) for n in self.overridden}
        rest = {
            n: getattr(self.current, n)
            for n in SamplingSettings.model_fields
            if n not in SAMPLING_FIELDS
        }
        return mode.model_copy(update={**rest, **keep})
