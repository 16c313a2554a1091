"""Split a streamed model output into reasoning and answer segments.

Three server shapes are handled:

* vLLM with ``--reasoning-parser qwen3`` streams reasoning in ``delta.reasoning``
  (vLLM >= 0.11) and the answer in ``delta.content``;
* older vLLM uses ``delta.reasoning_content``;
* a server without a reasoning parser leaves ``<think>…</think>`` inside ``content``.

`ThinkSplitter` is the pure incremental core for the last case: ``feed()`` text as it
arrives and ``flush()`` at the end. Tags may arrive split across chunks (``"</th"`` +
``"ink>"``) or glued to text (``"abc</think>\\n\\nxyz"``); a trailing partial tag is held
back until the next chunk decides it. `DeltaRouter` picks the right source per delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

SegmentKind = Literal["reasoning", "answer"]


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    text: str


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkSplitter:
    """Incremental ``<think>…</think>`` splitter.

    ``reasoning_first=True`` treats text before ``</think>`` as reasoning even when the
    opening tag is missing (templates that put ``<think>`` into the prompt). Otherwise
    output is an answer unless it starts with ``<think>``. Leading whitespace of each
    section is dropped, so Qwen's empty ``<think>\\n\\n</think>`` yields no reasoning.
    """

    def __init__(self, *, reasoning_first: bool = False) -> None:
        self._reasoning_first = reasoning_first
        self._state: Literal["start", "reasoning", "answer"] = "start"
        self._pending = ""
        self._section_started = False

    @property
    def in_reasoning(self) -> bool:
        return self._state == "reasoning"

    def feed(self, text: str) -> list[Segment]:
        self._pending += text
        out: list[Segment] = []
        while self._pending:
            if not self._step(out):
                break
        return _merge(out)

    def flush(self) -> list[Segment]:
        out: list[Segment] = []
        if self._state == "start":
            self._state = "reasoning" if self._reasoning_first else "answer"
        rest, self._pending = self._pending, ""
        self._emit(out, rest)
        return _merge(out)

    def _step(self, out: list[Segment]) -> bool:
        """Consume what can be decided now; False when waiting for more text."""
        if self._state == "start":
            return self._decide_start()
        if self._state == "reasoning":
            return self._consume_reasoning(out)
        self._emit(out, self._pending)
        self._pending = ""
        return False

    def _decide_start(self) -> bool:
        head = self._pending.lstrip()
        if head.startswith(OPEN_TAG):
            self._pending = head[len(OPEN_TAG) :]
            self._enter("reasoning")
        elif OPEN_TAG.startswith(head):
            return False  # only whitespace or a partial "<thi" so far
        else:
            self._enter("reasoning" if self._reasoning_first else "answer")
        return True

    def _consume_reasoning(self, out: list[Segment]) -> bool:
        end = self._pending.find(CLOSE_TAG)
        if end >= 0:
            self._emit(out, self._pending[:end])
            self._pending = self._pending[end + len(CLOSE_TAG) :]
            self._enter("answer")
            return True
        keep = _partial_suffix(self._pending, CLOSE_TAG)
        ready = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(ready) :]
        self._emit(out, ready)
        return False

    def _enter(self, state: Literal["reasoning", "answer"]) -> None:
        self._state = state
        self._section_started = False

    def _emit(self, out: list[Segment], text: str) -> None:
        if not self._section_started:
            text = text.lstrip()
            self._section_started = bool(text)
        if text:
            out.append(Segment("answer" if self._state == "answer" else "reasoning", text))


def _merge(segments: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].kind == seg.kind:
            merged[-1] = Segment(seg.kind, merged[-1].text + seg.text)
        else:
            merged.append(seg)
    return merged


class DeltaRouter:
    """Route one stream's deltas, whichever way the server splits reasoning."""

    def __init__(self, *, reasoning_first: bool = False) -> None:
        self._splitter = ThinkSplitter(reasoning_first=reasoning_first)
        self._server_splits = False
        self._started: set[str] = set()

    def route(self, *, reasoning: str | None, content: str | None) -> list[Segment]:
        out: list[Segment] = []
        if reasoning:
            self._server_splits = True
            self._append(out, "reasoning", reasoning)
        if content:
            if self._server_splits:
                self._append(out, "answer", content)
            else:
                out.extend(self._splitter.feed(content))
        return _merge(out)

    def _append(self, out: list[Segment], kind: SegmentKind, text: str) -> None:
        if kind not in self._started:
            text = text.lstrip()  # the server keeps the newlines around the tags
            if not text:
                return
            self._started.add(kind)
        out.append(Segment(kind, text))

    def flush(self) -> list[Segment]:
        return [] if self._server_splits else self._splitter.flush()
