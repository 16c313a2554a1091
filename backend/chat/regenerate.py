"""Regenerate: under the last answer, answer again in the same mode or in the other one.

The actions sit under the latest answer only (older ones are removed when a new answer
arrives). Answering again drops the last exchange's answer from the model's history and
asks the same question again; the new answer replaces the old one there, and the old one
on screen says so (and is marked ``replaced`` in what is saved). If the question cannot be
sent again (nothing new is shown), the old answer stays: in the history and on screen.
Chainlit runs action callbacks outside the message task, so the new answer runs as the
session's current task: Stop cancels it like any answer. It runs in a run step of its own
(``on_message``, under the question, as Chainlit makes for a message): the chat's thumbs
rate a run, so the new answer gets its own, and the replaced one keeps its rating.
A reopened conversation gets the actions back under its last answer (`restore`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import chainlit as cl
from chainlit.types import ThreadDict

from backend.chat import budget
from backend.chat.history import History, Turn
from backend.chat.modes import NO_THINK_LABEL, THINK_COMMAND, MessageMode
from backend.chat.settings import SettingsState
from backend.chat.turn import run_turn
from backend.chat.view import AnswerView
from backend.server.client import ChatClient
from backend.store.transcript import SAVED_KEY, Transcript, as_dict

ACTION = "regenerate"
SESSION_KEY = "regenerate_last"
REPLACED_NOTE = "*Replaced by the answer below.*"
RUN_NAME = "on_message"  # Chainlit's front end shows such a run as its messages, with thumbs


@dataclass
class Offer:
    message: cl.Message
    thinking: bool
    budget: int | None = None
    actions: list[cl.Action] = field(default_factory=list)
    question_id: str | None = None  # the message it answers


def actions_for(thinking: bool) -> list[cl.Action]:
    same, other = (THINK_COMMAND, NO_THINK_LABEL) if thinking else (NO_THINK_LABEL, THINK_COMMAND)
    return [
        cl.Action(
            name=ACTION,
            payload={"thinking": thinking},
            label=f"Again ({same})",
            tooltip="Answer again in the same mode; the new answer replaces this one",
            icon="refresh-cw",
        ),
        cl.Action(
            name=ACTION,
            payload={"thinking": not thinking},
            label=f"Again ({other})",
            tooltip="Answer again in the other mode; the new answer replaces this one",
            icon="repeat",
        ),
    ]


async def withdraw() -> None:
    """Remove the actions under the previous answer (a new answer is coming)."""
    offer: Offer | None = cl.user_session.get(SESSION_KEY)
    cl.user_session.set(SESSION_KEY, None)
    if offer is not None:
        for action in offer.actions:
            await action.remove()


async def offer(
    message: cl.Message | None,
    thinking: bool,
    budget: int | None = None,
    question_id: str | None = None,
) -> None:
    """Put the actions under ``message`` (the newest answer, to ``question_id``; None:
    there is none)."""
    await withdraw()
    if message is None or not message.id:
        return
    new = Offer(message, thinking, budget, actions_for(thinking), question_id)
    for action in new.actions:
        await action.send(for_id=message.id)
    cl.user_session.set(SESSION_KEY, new)


async def restore(thread: ThreadDict, transcript: Transcript) -> None:
    """Offer the actions under a reopened conversation's last answer, as they were offered
    when it was left: not under a comparison (it has its own choice) nor a stopped answer.
    The answer is rebuilt from its stored step, so marking it replaced keeps its place."""
    answered = [e for e in transcript.exchanges if e.answer is not None or e.compare]
    last = answered[-1] if answered else None
    if last is None or last.answer is None or last.compare or last.answer.details.get("stopped"):
        return
    steps = {step["id"]: step for step in thread.get("steps") or []}
    if (step := steps.get(last.answer.id)) is None:
        return
    message = cl.Message.from_dict({**step, "metadata": as_dict(step.get("metadata"))})
    question = steps.get(last.message_id) or {}
    tokens = budget.chosen(as_dict(question.get("modes"))).tokens
    await offer(message, last.answer.details.get("mode") == THINK_COMMAND, tokens, last.message_id)


async def run_as_task(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` as the session's current task, so Stop cancels it and the composer
    shows an answer in progress, as for a message."""
    session = cl.context.session
    task = asyncio.ensure_future(coro)
    session.current_task = task
    await cl.context.emitter.task_start()
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await cl.context.emitter.task_end()


async def mark_replaced(old: cl.Message, replaced: bool = True) -> None:
    """Say under ``old`` that it was replaced (or, ``replaced=False``, no longer)."""
    content = (old.content or "").removesuffix(REPLACED_NOTE).rstrip()
    if replaced:
        content = f"{content}\n\n{REPLACED_NOTE}" if content else REPLACED_NOTE
    old.content = content
    metadata = dict(old.metadata or {})
    if isinstance(record := metadata.get(SAVED_KEY), dict):
        metadata[SAVED_KEY] = {**record, "replaced": replaced}
    old.metadata = metadata
    await old.update()


async def answer_again(
    payload: dict[str, Any],
    client: ChatClient,
    history: History,
    settings: SettingsState,
    lock: asyncio.Lock,
    on_view: Callable[[AnswerView], None] | None = None,
) -> str | None:
    """Answer the last question again in the mode ``payload["thinking"]``; returns a note
    when that cannot be done now, else None. ``on_view`` receives the new answer's view."""
    last: Offer | None = cl.user_session.get(SESSION_KEY)
    if last is None:
        return "Only the latest answer can be answered again."
    if lock.locked():
        return "Wait until the current answer ends, then try again."
    before = list(history.turns)
    question = history.pop_last_exchange()
    if question is None:
        return "There is no question to answer again."
    again = Again(last, question, bool(payload.get("thinking")), before, on_view)
    await run_as_task(_again(client, history, settings, lock, again))
    return None


@dataclass
class Again:
    last: Offer  # the answer being replaced
    question: str
    thinking: bool
    before: list[Turn]  # the history as it was, if nothing new comes
    on_view: Callable[[AnswerView], None] | None = None


async def _again(
    client: ChatClient,
    history: History,
    settings: SettingsState,
    lock: asyncio.Lock,
    again: Again,
) -> None:
    last = again.last
    async with lock:
        await withdraw()
        await mark_replaced(last.message)
        mode = MessageMode(again.thinking, again.question)
        async with cl.Step(name=RUN_NAME, type="run", parent_id=last.question_id):
            view = await run_turn(client, history, settings, mode, last.budget, again.on_view)
        if view.message is None:  # not sent (the chat said why): the old answer stays
            history.turns[:] = again.before
            await mark_replaced(last.message, replaced=False)
            await offer(last.message, last.thinking, last.budget, last.question_id)
            return
        await offer(view.message, again.thinking, last.budget, last.question_id)
