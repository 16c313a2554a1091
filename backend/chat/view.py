"""How one answer appears in Chainlit: a reasoning step, then the answer message.

The step opens while the model thinks and collapses (``auto_collapse``) when it ends,
i.e. when the answer starts; its title becomes "Thought for 3.2 s". Reasoning that is
only whitespace creates no step. Text is coalesced so a fast stream costs few events.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import chainlit as cl

from backend.chat.coalesce import Coalescer
from backend.chat.mathtext import RenderedStream, normalize_math
from backend.server.reasoning import Segment
from backend.store.transcript import SAVED_KEY

THINKING_TITLE = "Thinking…"
# Qwen3's end-of-thinking sentence; vLLM forces it when the thinking budget is spent.
BUDGET_SENTENCE = (
    "Considering the limited time by the user, I have to give the solution based on the "
    "thinking directly now."
)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def thought_title(elapsed_s: float, *, budget_cut: bool = False, stopped: bool = False) -> str:
    title = f"Thought for {elapsed_s:.1f} s"
    if budget_cut:
        title += " · thinking budget reached"
    if stopped:
        title += " · stopped"
    return title


class AnswerView:
    def __init__(self, *, interval_s: float = 0.05) -> None:
        self.reasoning = ""
        self.answer = ""
        self.step: cl.Step | None = None
        self.message: cl.Message | None = None
        self.started_at = time.monotonic()
        self.first_token_at: float | None = None
        self.thinking_s: float | None = None
        self._thinking_since: float | None = None
        self._step_buffer = Coalescer(interval_s)
        self._answer_buffer = Coalescer(interval_s)
        # What the page shows is the text made safe for Markdown + LaTeX (mathtext.py).
        self._step_render = RenderedStream()
        self._answer_render = RenderedStream()
        self.budget_cut = False
        self.saved: dict[str, object] = {}  # stored with the answer (mode, stats…), see finish()

    @property
    def thinking(self) -> bool:
        return self.step is not None and self.thinking_s is None

    async def add(self, segment: Segment) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        if segment.kind == "reasoning":
            await self._add_reasoning(segment.text)
        else:
            await self._add_answer(segment.text)

    async def _add_reasoning(self, text: str) -> None:
        if self.thinking_s is not None:
            # Reasoning after the answer began (a second think block): keep it with the rest.
            self.reasoning += text
            return
        if self.step is None:
            self._thinking_since = time.monotonic()
            parent = cl.context.current_step  # the on_message run, like the answer message
            self.step = cl.Step(
                name=THINKING_TITLE,
                type="llm",
                parent_id=parent.id if parent else None,
                default_open=True,
                auto_collapse=True,
            )
            self.step.start = _now_iso()
            self.step.show_input = False
            await self.step.send()
        self.reasoning += text
        if self._step_buffer.add(text) is not None:
            await _stream(self.step, self._step_render, self.reasoning)

    async def _add_answer(self, text: str) -> None:
        await self.end_thinking()
        if self.message is None:
            self.message = cl.Message(content="")
        self.answer += text
        if self._answer_buffer.add(text) is not None:
            await _stream(self.message, self._answer_render, self.answer)

    async def end_thinking(self, *, stopped: bool = False) -> None:
        if self.step is None or self.thinking_s is not None:
            return
        if self._step_buffer.drain():
            await _stream(self.step, self._step_render, self.reasoning)
        self.thinking_s = time.monotonic() - (self._thinking_since or self.started_at)
        self.budget_cut = self.budget_cut or BUDGET_SENTENCE in self.reasoning
        self.step.name = thought_title(self.thinking_s, budget_cut=self.budget_cut, stopped=stopped)
        self.step.output = normalize_math(self.reasoning.strip())
        self.step.end = _now_iso()
        await self.step.update()

    async def finish(
        self, *, note: str | None = None, stats: str | None = None, stopped: bool = False
    ) -> cl.Message:
        """Close the step, flush the answer, add ``note`` and the ``stats`` line, and send."""
        await self.end_thinking(stopped=stopped)
        if self.message is None:
            self.message = cl.Message(content="")
        if self._answer_buffer.drain():
            await _stream(self.message, self._answer_render, self.answer)
        content = normalize_math(self.answer.strip())
        for extra in (note, stats):
            if extra:
                content = f"{content}\n\n*{extra}*" if content else f"*{extra}*"
        self.message.content = content
        record = self._record(note, stats, stopped)
        self.message.metadata = {**(self.message.metadata or {}), SAVED_KEY: record}
        await self.message.send()  # sends a new message, or ends the streamed one
        return self.message

    def _record(self, note: str | None, stats: str | None, stopped: bool) -> dict[str, object]:
        """What the saved conversation keeps about this answer besides its text."""
        record: dict[str, object] = {
            "role": "answer",
            "answer": self.answer,
            "note": note,
            "stats": stats,
        }
        record.update(stopped=stopped, thinking_s=self.thinking_s, **self.saved)
        return record


async def _stream(target: cl.Step | cl.Message, render: RenderedStream, raw: str) -> None:
    if update := render.update(raw):
        token, is_sequence = update
        await target.stream_token(token, is_sequence=is_sequence)
