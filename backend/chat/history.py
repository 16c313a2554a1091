"""Conversation history and the text hygiene applied before anything reaches the model.

Earlier assistant turns go back with their final answers only, never their reasoning
(Qwen3's rule). User text is cleaned so it cannot change the prompt's structure: strings
that the tokenizer would turn into special tokens (``<|im_start|>``, ``<think>``…) get a
zero-width space after ``<``, which looks the same but tokenizes as plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

ZERO_WIDTH_SPACE = "\u200b"
# <|anything|> (Qwen's control tokens) and <think>/</think>.
_SPECIAL = re.compile(r"<(?=\|[^<>|]{1,40}\|>)|<(?=/?think>)")
# C0/C1 control characters except tab and newline (NUL included).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """Make user text safe to template: valid UTF-8, no controls, no special tokens."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return _SPECIAL.sub("<" + ZERO_WIDTH_SPACE, text)


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass
class History:
    turns: list[Turn] = field(default_factory=list)

    def add_user(self, text: str) -> None:
        self.turns.append(Turn("user", clean_text(text)))

    def add_assistant(self, answer: str) -> None:
        """Store the final answer only; an empty answer keeps the user turn unanswered."""
        if answer.strip():
            self.turns.append(Turn("assistant", clean_text(answer)))

    def replace_last_answer(self, answer: str) -> None:
        """The last exchange's answer becomes ``answer`` (none if it is empty)."""
        if self.turns and self.turns[-1].role == "assistant":
            self.turns.pop()
        self.add_assistant(answer)

    def pop_last_exchange(self) -> str | None:
        """Remove the last question and its answer; the question's text (None: none)."""
        if self.turns and self.turns[-1].role == "assistant":
            self.turns.pop()
        if self.turns and self.turns[-1].role == "user":
            return self.turns.pop().content
        return None

    def drop_last_user(self) -> None:
        if self.turns and self.turns[-1].role == "user":
            self.turns.pop()

    def messages(self, system_prompt: str = "") -> list[dict[str, str]]:
        out = [{"role": "system", "content": clean_text(system_prompt)}] if system_prompt else []
        out.extend({"role": t.role, "content": t.content} for t in self.turns)
        return out

    def drop_oldest_exchange(self) -> bool:
        """Forget the oldest user turn and its answer; False when only the last one is left."""
        if len(self.turns) <= 1:
            return False
        del self.turns[0]
        if self.turns and self.turns[0].role == "assistant":
            del self.turns[0]
        return bool(self.turns)
