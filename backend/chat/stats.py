"""The compact stats line under each answer: from the usage chunk and the client's clock."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from backend.server.client import Usage


class StreamedAnswer(Protocol):
    """What the stats need from a streamed answer (`AnswerView`, a comparison's `Side`)."""

    started_at: float
    first_token_at: float | None
    thinking_s: float | None
    reasoning: str
    answer: str


@dataclass(frozen=True)
class AnswerStats:
    ttft_s: float | None
    thinking_s: float | None
    reasoning_tokens: int | None
    answer_tokens: int | None
    elapsed_s: float

    @classmethod
    def from_view(
        cls, view: StreamedAnswer, usage: Usage | None, finish: str | None = None
    ) -> AnswerStats:
        now = time.monotonic()
        ttft = view.first_token_at - view.started_at if view.first_token_at else None
        reasoning = answer = None
        if usage is not None:
            reasoning = usage.reasoning_tokens
            if reasoning is None and view.reasoning.strip() and usage.completion_tokens:
                # Split by character share when the server does not count reasoning tokens.
                total_chars = len(view.reasoning) + len(view.answer)
                reasoning = round(usage.completion_tokens * len(view.reasoning) / total_chars)
            answer = usage.completion_tokens - (reasoning or 0)
        return cls(ttft, view.thinking_s, reasoning, answer, now - view.started_at)

    @property
    def tokens_per_s(self) -> float | None:
        total = (self.reasoning_tokens or 0) + (self.answer_tokens or 0)
        if not total or self.ttft_s is None or self.elapsed_s <= self.ttft_s:
            return None
        return total / (self.elapsed_s - self.ttft_s)

    def line(self) -> str:
        parts = []
        if self.ttft_s is not None:
            parts.append(f"first token {self.ttft_s * 1000:.0f} ms")
        if self.thinking_s is not None:
            parts.append(f"thought {self.thinking_s:.1f} s")
        if self.reasoning_tokens:
            parts.append(f"{self.reasoning_tokens} reasoning tokens")
        if self.answer_tokens is not None:
            parts.append(f"{self.answer_tokens} answer tokens")
        if (rate := self.tokens_per_s) is not None:
            parts.append(f"{rate:.1f} tok/s")
        return " · ".join(parts)
