"""The chat's own Prometheus metrics: what people in the chat see, as prometheus_client series.

Contract:

- `ChatMetrics(registry)` defines every series on ``registry`` and pre-creates each bounded
  label value at zero, so a dashboard shows 0 rather than "no data" before the first error.
- Recording is a handful of methods the chat calls (`session_opened`, `message`,
  `answer`...); they never raise for a known label and never take user text or ids as
  label values (a session id only keys the set of open sessions, it is never a label).
- `snapshot()` reads the numbers back from the registry: the Status command shows exactly
  what Prometheus scrapes.

Names follow vLLM's (``vllm:time_to_first_token_seconds``): ``hybrid_chat_`` prefix, the
unit in the name, counters end in ``_total``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from backend.metrics.kinds import ERROR_KINDS

Outcome = Literal["completed", "stopped", "length", "error"]
OUTCOMES: tuple[Outcome, ...] = ("completed", "stopped", "length", "error")
MODES = ("think", "no_think")
TOKEN_KINDS = ("reasoning", "answer")

# From an H200 answering in tens of milliseconds to the CPU demo taking seconds.
TTFT_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80)
ANSWER_BUCKETS_S = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640)


@dataclass(frozen=True)
class ChatSnapshot:
    """The registry's current numbers (counters are totals since the chat started)."""

    active_sessions: int
    answers_in_progress: int
    messages: dict[str, int]
    answers: dict[str, int]
    errors: dict[str, int]
    thinking_budget_hits: int
    history_save_failures: int
    ttft_count: int
    ttft_sum_s: float

    @property
    def mean_ttft_s(self) -> float | None:
        return self.ttft_sum_s / self.ttft_count if self.ttft_count else None


class ChatMetrics:
    def __init__(self, registry: CollectorRegistry, *, process: bool = False) -> None:
        self.registry = registry
        if process:  # the chat's memory and CPU, as process_* series
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
        self._sessions: set[str] = set()
        self.active_sessions = Gauge(
            "hybrid_chat_active_sessions", "Chat sessions open in a browser now.", registry=registry
        )
        self.active_sessions.set_function(lambda: len(self._sessions))
        self.answers_in_progress = Gauge(
            "hybrid_chat_answers_in_progress", "Answers being streamed now.", registry=registry
        )
        self.messages = Counter(
            "hybrid_chat_messages_total", "Messages sent, by mode.", ["mode"], registry=registry
        )
        self.answers = Counter(
            "hybrid_chat_answers_total",
            "Answers ended, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.errors = Counter(
            "hybrid_chat_answer_errors_total",
            "Answers that failed, by kind.",
            ["kind"],
            registry=registry,
        )
        self.ttft = Histogram(
            "hybrid_chat_time_to_first_token_seconds",
            "From sending to the first streamed token, as the chat saw it.",
            ["mode"],
            buckets=TTFT_BUCKETS_S,
            registry=registry,
        )
        self.answer_time = Histogram(
            "hybrid_chat_answer_duration_seconds",
            "From sending to the end of the answer, as the chat saw it.",
            ["mode", "outcome"],
            buckets=ANSWER_BUCKETS_S,
            registry=registry,
        )
        self.tokens = Counter(
            "hybrid_chat_tokens_total",
            "Tokens relayed to the browser, by kind.",
            ["kind"],
            registry=registry,
        )
        self.budget_hits = Counter(
            "hybrid_chat_thinking_budget_hits_total",
            "Answers whose reasoning was ended by the thinking budget.",
            registry=registry,
        )
        self.history_save_failures = Counter(
            "hybrid_chat_history_save_failures_total",
            "Conversation writes that failed (the chat went on; the user got a notice).",
            registry=registry,
        )
        self._zero_labels()

    def _zero_labels(self) -> None:
        for mode in MODES:
            self.messages.labels(mode)
            self.ttft.labels(mode)
            for outcome in OUTCOMES:
                self.answer_time.labels(mode, outcome)
        for outcome in OUTCOMES:
            self.answers.labels(outcome)
        for kind in ERROR_KINDS:
            self.errors.labels(kind)
        for kind in TOKEN_KINDS:
            self.tokens.labels(kind)

    # -- recording -------------------------------------------------------------------
    def session_opened(self, session_id: str) -> None:
        self._sessions.add(session_id)  # idempotent: a reconnect does not count twice

    def session_closed(self, session_id: str) -> None:
        self._sessions.discard(session_id)

    def message(self, thinking: bool) -> None:
        self.messages.labels(_mode(thinking)).inc()

    def answer(
        self,
        outcome: Outcome,
        *,
        thinking: bool,
        ttft_s: float | None,
        elapsed_s: float,
        reasoning_tokens: int | None = None,
        answer_tokens: int | None = None,
        budget_cut: bool = False,
        error_kind: str | None = None,
    ) -> None:
        """One answer ended (``error_kind`` from `kinds.error_kind` when outcome is error)."""
        mode = _mode(thinking)
        self.answers.labels(outcome).inc()
        if outcome == "error":
            self.errors.labels(error_kind if error_kind in ERROR_KINDS else "internal").inc()
        if ttft_s is not None:
            self.ttft.labels(mode).observe(ttft_s)
        self.answer_time.labels(mode, outcome).observe(elapsed_s)
        self.tokens.labels("reasoning").inc(max(reasoning_tokens or 0, 0))
        self.tokens.labels("answer").inc(max(answer_tokens or 0, 0))
        if budget_cut:
            self.budget_hits.inc()

    def not_sent(self, error_kind: str) -> None:
        """A message that never reached the model (context full, server down)."""
        self.answers.labels("error").inc()
        self.errors.labels(error_kind if error_kind in ERROR_KINDS else "internal").inc()

    # -- reading ---------------------------------------------------------------------
    def _value(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def _by(self, name: str, label: str, values: tuple[str, ...]) -> dict[str, int]:
        return {v: int(self._value(name, {label: v})) for v in values}

    def snapshot(self) -> ChatSnapshot:
        ttft_count = sum(
            self._value("hybrid_chat_time_to_first_token_seconds_count", {"mode": m}) for m in MODES
        )
        ttft_sum = sum(
            self._value("hybrid_chat_time_to_first_token_seconds_sum", {"mode": m}) for m in MODES
        )
        return ChatSnapshot(
            active_sessions=int(self._value("hybrid_chat_active_sessions")),
            answers_in_progress=int(self._value("hybrid_chat_answers_in_progress")),
            messages=self._by("hybrid_chat_messages_total", "mode", MODES),
            answers=self._by("hybrid_chat_answers_total", "outcome", OUTCOMES),
            errors=self._by("hybrid_chat_answer_errors_total", "kind", ERROR_KINDS),
            thinking_budget_hits=int(self._value("hybrid_chat_thinking_budget_hits_total")),
            history_save_failures=int(self._value("hybrid_chat_history_save_failures_total")),
            ttft_count=int(ttft_count),
            ttft_sum_s=ttft_sum,
        )


def _mode(thinking: bool) -> str:
    return "think" if thinking else "no_think"
