"""One side of a comparison: what has arrived, its state and stats, as element props.

Pure state, no I/O: `CompareView` feeds segments in and publishes `props()`. The props are
the whole record of the side (raw reasoning and answer, the answer made safe for Markdown,
timings, token counts), so a saved conversation keeps both sides as they were shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from backend.chat.mathtext import normalize_math
from backend.chat.stats import AnswerStats
from backend.chat.view import BUDGET_SENTENCE
from backend.server.client import Usage
from backend.server.reasoning import Segment

Status = Literal["waiting", "thinking", "answering", "done", "stopped", "error"]


@dataclass
class Side:
    key: str
    label: str
    thinking: bool
    reasoning: str = ""
    answer: str = ""
    status: Status = "waiting"
    error: str | None = None
    note: str | None = None
    usage: Usage | None = None
    finish: str | None = None
    first_token_at: float | None = None
    thinking_s: float | None = None
    stats: AnswerStats | None = None
    saved_stats: dict[str, Any] | None = None  # a restored side's stats, as stored

    @classmethod
    def restored(cls, props: dict[str, Any]) -> Side:
        """A side from a saved conversation (its ``props()`` as stored); one that was still
        streaming when the chat stopped counts as stopped."""
        status = props.get("status")
        side = cls(
            key=str(props.get("key")),
            label=str(props.get("label") or props.get("key")),
            thinking=bool(props.get("thinking")),
            reasoning=str(props.get("reasoning") or ""),
            answer=str(props.get("answer") or ""),
            status=status if status in ("done", "stopped", "error") else "stopped",
            error=props.get("error"),
            note=props.get("note"),
            thinking_s=props.get("thought_s"),
        )
        stats = props.get("stats")
        side.saved_stats = stats if isinstance(stats, dict) else None
        return side

    def __post_init__(self) -> None:
        self.started_at = time.monotonic()

    def add(self, segment: Segment) -> None:
        now = time.monotonic()
        if self.first_token_at is None:
            self.first_token_at = now
        if segment.kind == "reasoning":
            self.reasoning += segment.text
            if self.status == "waiting":
                self.status = "thinking"
            return
        if self.status == "thinking" and self.thinking_s is None:
            self.thinking_s = now - self.first_token_at
        self.answer += segment.text
        self.status = "answering"

    def end(self, status: Status, *, error: str | None = None) -> None:
        """Close the side (done, stopped or error); its stats are taken now."""
        if self.status in ("done", "stopped", "error"):
            return
        if self.status == "thinking" and self.first_token_at is not None:
            self.thinking_s = time.monotonic() - self.first_token_at
        self.status = status
        self.error = error
        self.stats = AnswerStats.from_view(self, self.usage, self.finish)
        if status == "done" and self.finish == "length":
            self.note = "The answer was cut off at the token limit."

    @property
    def budget_cut(self) -> bool:
        return BUDGET_SENTENCE in self.reasoning

    def props(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "thinking": self.thinking,
            "status": self.status,
            "reasoning": self.reasoning,
            "answer": self.answer,
            "answer_md": normalize_math(self.answer.strip()),
            "thought_s": _round(self.thinking_s, 1),
            "budget_cut": self.budget_cut,
            "error": self.error,
            "note": self.note,
            "stats": _stats(self.stats) if self.stats else self.saved_stats,
        }

    def record(self) -> dict[str, Any]:
        """What a saved conversation keeps of the side: its props less the rendered copy."""
        return {k: v for k, v in self.props().items() if k != "answer_md"}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _stats(stats: AnswerStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        "ttft_ms": None if stats.ttft_s is None else round(stats.ttft_s * 1000),
        "total_s": round(stats.elapsed_s, 2),
        "reasoning_tokens": stats.reasoning_tokens,
        "answer_tokens": stats.answer_tokens,
        "tokens_per_s": _round(stats.tokens_per_s, 1),
    }


def default_kept(sides: list[Side]) -> str:
    """The thinking side's answer, unless it has none and the other side has one."""
    thinking = next(s for s in sides if s.thinking)
    if thinking.answer.strip():
        return thinking.key
    other = next((s for s in sides if not s.thinking and s.answer.strip()), None)
    return other.key if other else thinking.key
