"""Compare: one question in both modes at once, side by side (public/elements/Compare.jsx).

Two requests go out together; they differ only in ``enable_thinking`` and the per-mode
sampling presets (`SettingsState.for_message`). Both stream into one custom element,
republished at most once per ``STREAM_FLUSH_MS`` (`Coalescer`) whatever the token rate,
and less often as the texts grow (every frame carries both whole texts).
Stop cancels the message's task, which cancels both streams, and each
``ChatClient.stream()`` closes its HTTP response, so vLLM aborts both requests. A server
error ends its own side only.

The conversation goes on from the kept answer: the thinking one unless the user picks the
other (a button on each side, `keep`), and only that answer, without reasoning, is in the
model's history. Everything shown is in the element's props (both sides, raw and rendered,
stats, which side is kept). The message's metadata (``SAVED_KEY``, `CompareView.record`)
holds the same less the rendered copies, plus the kept answer: Chainlit's data layer does
not store the element, so a saved conversation is restored from the message
(backend/chat/compare_saved.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import chainlit as cl

from backend.chat.budget import BudgetChoice
from backend.chat.coalesce import Coalescer
from backend.chat.compare_side import Side, default_kept
from backend.chat.features import served_settings
from backend.chat.history import History, Turn
from backend.chat.modes import MessageMode
from backend.chat.settings import SamplingSettings, SettingsState
from backend.chat.turn import _prepare
from backend.server.client import ChatClient, Finish, ServerError, Usage
from backend.server.reasoning import Segment
from backend.store.transcript import SAVED_KEY

COMMAND = "Compare"
ELEMENT = "Compare"
KEEP_ACTION = "compare_keep"
SESSION_KEY = "compare_last"
FRAME_CHARS_PER_S = 100_000
log = logging.getLogger("hybrid_chat")


class CompareView:
    """A comparison on screen: the element, its message, and the two sides' state."""

    def __init__(self, question: str, budget: BudgetChoice, *, interval_s: float) -> None:
        self.id = str(uuid.uuid4())
        self.question = question
        self.budget = budget
        self.sides = [Side("think", "Think", True), Side("no_think", "No think", False)]
        self.kept = "think"
        self.final = False
        self.user_turn: Turn | None = None
        self._interval_s = interval_s
        self._frames = Coalescer(interval_s)
        self.element = cl.CustomElement(name=ELEMENT, props=self.props(), display="inline")
        self.message = cl.Message(content="", metadata={SAVED_KEY: self.record()})

    def side(self, key: str) -> Side | None:
        return next((s for s in self.sides if s.key == key), None)

    def props(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "budget": self.budget.id,
            "sides": [s.props() for s in self.sides],
            "kept": self.kept,
            "final": self.final,
            "keep_action": KEEP_ACTION,
        }

    def record(self) -> dict[str, Any]:
        """What the saved conversation keeps (transcript.py reads it back)."""
        kept = self.side(self.kept)
        return {
            "role": "compare",
            "mode": COMMAND,
            "answer": kept.answer if kept and self.final else "",
            "id": self.id,
            "element_id": self.element.id,
            "question": self.question,
            "budget": self.budget.id,
            "kept": self.kept,
            "final": self.final,
            "sides": [s.record() for s in self.sides],
        }

    async def open(self) -> None:
        await self.message.send()
        self.element.for_id = self.message.id
        await self._store()

    async def publish(self) -> None:
        """Show the current state. Live frames go straight to the page; the first and the
        final state are stored through ``Element.send`` (which writes a file every call)."""
        self.element.props = self.props()
        if not self.final:
            await cl.context.emitter.send_element(self.element.to_dict())
            return
        self.element.content = json.dumps(self.element.props)
        await self._store()
        self.message.metadata = {SAVED_KEY: self.record()}
        await self.message.update()

    async def _store(self) -> None:
        """Send the element the stored way; if its file cannot be written (the session's
        folder is gone), show it anyway: the comparison must not fail for that."""
        try:
            await self.element.send(for_id=self.message.id)
        except OSError:
            log.warning("compare element not stored", exc_info=True)
            await cl.context.emitter.send_element(self.element.to_dict())

    async def tick(self) -> None:
        # Each frame carries (and the page re-renders) both whole texts: long answers get
        # proportionally fewer frames, so the work per second stays bounded.
        chars = sum(len(s.reasoning) + len(s.answer) for s in self.sides)
        self._frames.interval_s = max(self._interval_s, chars / FRAME_CHARS_PER_S)
        if self._frames.add(".") is not None:
            await self.publish()


async def run_compare(
    client: ChatClient,
    history: History,
    settings_state: SettingsState,
    question: str,
    budget: BudgetChoice,
    on_view: Callable[[CompareView], None] | None = None,
) -> CompareView | None:
    """Stream both answers, keep the default one in ``history``; on Stop, keep what came.
    None when the question could not be sent (the chat already says why). ``on_view``
    receives the view once the comparison is on screen."""
    view = CompareView(question, budget, interval_s=client.config.stream_flush_ms / 1000)
    history.add_user(question)
    view.user_turn = history.turns[-1]
    # The no-think prompt is the longer one (it ends with an empty think block).
    fit = settings_state.for_message(False)
    if not await _prepare(client, history, fit, MessageMode(False, question)):
        history.drop_last_user()
        return None
    cl.user_session.set(SESSION_KEY, view)
    messages = history.messages(settings_state.current.system_prompt)
    await view.open()
    if on_view is not None:
        on_view(view)
    streams = []
    for side in view.sides:
        wanted = settings_state.for_message(side.thinking, budget.tokens)
        settings, missing = served_settings(client.config, wanted, thinking=side.thinking)
        if missing:
            await cl.Message(content=missing, author="Chat").send()
        streams.append(asyncio.ensure_future(_run_side(client, view, side, messages, settings)))
    try:
        # Cancelling this task cancels both streams and waits until each has closed.
        await asyncio.gather(*streams)
    except asyncio.CancelledError:
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        for side in view.sides:
            side.end("stopped")
        await _settle(view, history)
        raise
    await _settle(view, history)
    return view


async def _settle(view: CompareView, history: History) -> None:
    view.kept = default_kept(view.sides)
    view.final = True
    kept = view.side(view.kept)
    history.add_assistant(kept.answer if kept else "")
    await view.publish()


async def _run_side(
    client: ChatClient,
    view: CompareView,
    side: Side,
    messages: list[dict[str, str]],
    settings: SamplingSettings,
) -> None:
    try:
        async with client.stream(messages, settings, thinking=side.thinking) as events:
            async for event in events:
                if isinstance(event, Segment):
                    side.add(event)
                    await view.tick()
                elif isinstance(event, Usage):
                    side.usage = event
                elif isinstance(event, Finish):
                    side.finish = event.reason
    except ServerError as exc:
        side.end("error", error=str(exc))
    except Exception as exc:  # one side's failure must not end the other
        log.exception("compare side failed")
        side.end("error", error=f"Something went wrong ({type(exc).__name__}).")
    else:
        side.end("done")
    await view.publish()


def is_current(view: CompareView, history: History) -> bool:
    """True while the comparison is still the conversation's last exchange."""
    turns = history.turns
    if not turns or view.user_turn is None:
        return False
    if turns[-1] is view.user_turn:
        return True
    return len(turns) >= 2 and turns[-2] is view.user_turn and turns[-1].role == "assistant"


async def keep(payload: dict[str, Any], history: History, lock: asyncio.Lock) -> str | None:
    """The user keeps one side; returns a note when that cannot be done, else None."""
    view: CompareView | None = cl.user_session.get(SESSION_KEY)
    if view is None or payload.get("id") != view.id or not is_current(view, history):
        return "Only the latest comparison's answer can be chosen; the chat has moved on."
    side = view.side(str(payload.get("side")))
    if side is None or not view.final or lock.locked():
        return "Wait until the answers are complete, then choose one."
    if not side.answer.strip():
        return f"The {side.label} side has no answer to keep."
    view.kept = side.key
    history.replace_last_answer(side.answer)
    await view.publish()
    return None
