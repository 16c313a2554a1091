"""Per-message thinking mode: the composer's Think button, or a /think or /no_think suffix.

A suffix wins over the button for that one message (Qwen3's soft switch), and is removed
from the text sent: ``enable_thinking`` carries the choice to the chat template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_COMMAND = "Think"
NO_THINK_LABEL = "No think"
_SUFFIX = re.compile(r"(?:^|\s)/(think|no_think)\s*$")


@dataclass(frozen=True)
class MessageMode:
    thinking: bool
    text: str
    from_suffix: bool = False

    @property
    def label(self) -> str:
        return THINK_COMMAND if self.thinking else NO_THINK_LABEL


def resolve_mode(text: str, *, button_on: bool) -> MessageMode:
    match = _SUFFIX.search(text)
    if match is None:
        return MessageMode(thinking=button_on, text=text.strip())
    return MessageMode(
        thinking=match.group(1) == "think", text=text[: match.start()].strip(), from_suffix=True
    )
