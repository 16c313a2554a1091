"""Chainlit handlers behind app.py's hooks: one chat session's life.

Each session keeps its history, its settings and a lock: one answer at a time per
session, and a second message waits its turn (and says so). Every failure a user can
cause or meet ends in a plain message in the chat, never a stack trace.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache

import chainlit as cl
from chainlit.chat_context import chat_contexts
from chainlit.types import CommandDict, ThreadDict

from backend.auth.hooks import forget_refused_resume
from backend.chat import budget, compare, compare_saved, regenerate, routes, saved
from backend.chat.history import History
from backend.chat.mathtext import normalize_math
from backend.chat.modes import THINK_COMMAND, MessageMode, resolve_mode
from backend.chat.panel import build_widgets
from backend.chat.settings import SAMPLING_FIELDS, SettingsState
from backend.chat.starters import STARTERS
from backend.chat.status import show_status
from backend.chat.turn import run_turn, stopped_turn
from backend.chat.view import AnswerView
from backend.config import Config
from backend.metrics import METRICS
from backend.server.client import ChatClient
from backend.store.layer import StoreDataLayer

STATUS_COMMAND = "Status"
EXPORT_COMMAND = "Export"
COMMANDS: list[CommandDict] = [
    {
        "id": THINK_COMMAND,
        "icon": "brain",
        "description": "Think before answering (applies to each message you send)",
        "button": True,
        "persistent": True,
        "selected": True,
    },
    {
        "id": STATUS_COMMAND,
        "icon": "activity",
        "description": "Show the model server's status",
        "button": False,
        "persistent": False,
        "selected": False,
    },
    {
        "id": EXPORT_COMMAND,
        "icon": "download",
        "description": "Download this conversation as Markdown and JSON",
        "button": False,
        "persistent": False,
        "selected": False,
    },
    {
        "id": compare.COMMAND,
        "icon": "columns-2",
        "description": "Ask in both modes at once and compare the answers side by side",
        "button": True,
        "persistent": False,
        "selected": False,
    },
]


@lru_cache(maxsize=1)
def get_config() -> Config:
    return Config.from_env()


@lru_cache(maxsize=1)
def get_client() -> ChatClient:
    return ChatClient(get_config())


routes.install(get_config(), get_client())


@dataclass
class ChatState:
    history: History = field(default_factory=History)
    settings: SettingsState = field(default_factory=SettingsState)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    saving: saved.Saving = field(default_factory=saved.Saving)
    think: bool = True  # the Think button, kept with a saved conversation


def _state() -> ChatState:
    state = cl.user_session.get("chat")
    if state is None:
        state = ChatState()
        cl.user_session.set("chat", state)
    return state


async def note(text: str) -> None:
    await cl.Message(content=text, author="Chat").send()


def starters() -> list[cl.Starter]:
    return [
        cl.Starter(label=s.label, message=s.message, command=s.command, icon=s.icon)
        for s in STARTERS
    ]


async def start_chat() -> None:
    forget_refused_resume(cl.context.session)  # before anything can be saved under it
    await _open(_state(), COMMANDS)
    await saved.announce_history_off()


async def _open(state: ChatState, commands: list[CommandDict]) -> None:
    """What a new and a reopened chat both show: the commands, the thinking-budget picker
    and the settings panel; the session counts as open."""
    METRICS.session_opened(cl.context.session.id)
    await cl.context.emitter.set_commands(commands)
    await cl.context.emitter.set_modes([budget.budget_mode()])
    widgets = build_widgets(state.settings.current, mode_fields=SAMPLING_FIELDS)
    await cl.ChatSettings(widgets).send()


async def update_settings(raw: dict) -> None:
    state = _state()
    notes = state.settings.update(raw)
    saved.save_thread_state(state.settings, think=state.think)
    if notes:
        await note("Some settings were adjusted:\n" + "\n".join(f"- {n}" for n in notes))


async def handle_message(message: cl.Message | None) -> None:
    if message is None:  # an edit of a message this reconnected tab no longer holds
        await note("That message can no longer be edited here; send it again as a new one.")
        return
    command = budget.command_of(message.command)  # an edited message carries its label
    if command == STATUS_COMMAND:
        await show_status(get_client())
        return
    if command == EXPORT_COMMAND:
        await saved.export({STATUS_COMMAND, EXPORT_COMMAND})
        return
    comparing = command == compare.COMMAND
    mode = resolve_mode(message.content or "", button_on=command == THINK_COMMAND)
    if not mode.text:
        await note("Your message is empty, so nothing was sent. Type a question first.")
        return
    # Queue before any await, so answers come in the order the messages were sent.
    state = _state()
    METRICS.session_opened(cl.context.session.id)  # a tab that reconnected is active again
    if state.lock.locked():
        await note("Still answering your previous message; this one is next in line.")
    choice = budget.chosen(getattr(message, "modes", None))
    turn_started = False
    try:
        async with state.lock:
            state.think = comparing or command == THINK_COMMAND
            if (kept := await saved.undo_after(state.saving, message)) is not None:
                state.history = saved.history_from(kept)  # an edit: re-run from this message
            await regenerate.withdraw()
            shown = compare.COMMAND if comparing else mode.label
            await _label(message, budget.label(shown, choice, thinking=comparing or mode.thinking))
            if comparing:
                await cl.context.emitter.set_commands(COMMANDS)  # Think is selected again
                await _saved_compare(state, message, mode.text, choice)
                return
            await saved.notice_unsaved(state.saving)
            turn_started = True  # from here on the turn itself answers a Stop
            view = await _saved_turn(state, message, mode, choice.tokens)
            await regenerate.offer(view.message, mode.thinking, choice.tokens, message.id)
    except asyncio.CancelledError:
        if not turn_started and not comparing:
            await _stopped_early(state, message, mode, choice)
        raise


async def _stopped_early(
    state: ChatState, message: cl.Message, mode: MessageMode, choice: budget.BudgetChoice
) -> None:
    """Stop came before the answer began (the message may still have been next in line):
    once the answer before it is done, this one ends as "Stopped.", shown and saved."""
    async with state.lock:
        await regenerate.withdraw()
        await _label(message, budget.label(mode.label, choice, thinking=mode.thinking))
        await _saved_turn(state, message, mode, choice.tokens, stopped=True)


async def _saved_turn(
    state: ChatState,
    message: cl.Message,
    mode: MessageMode,
    budget_tokens: int | None,
    *,
    stopped: bool = False,
) -> AnswerView:
    """Run the turn (``stopped``: Stop came first); record it for edits, keep settings with
    the thread, watch saving."""
    views: list[AnswerView] = []
    run = cl.context.current_step
    answer = stopped_turn if stopped else run_turn
    try:
        return await answer(
            get_client(), state.history, state.settings, mode, budget_tokens, views.append
        )
    finally:
        if views:
            saved.record_turn(state.saving, message, mode.text, views[0], run.id if run else None)
        saved.save_thread_state(state.settings, think=state.think)
        saved.watch_saving(state.saving)


async def _saved_compare(
    state: ChatState, message: cl.Message, text: str, choice: budget.BudgetChoice
) -> None:
    """Run the comparison; record its kept answer for edits, as `_saved_turn` does."""
    views: list[compare.CompareView] = []
    run = cl.context.current_step
    await saved.notice_unsaved(state.saving)
    args = (get_client(), state.history, state.settings, text, choice, views.append)
    try:
        await compare.run_compare(*args)
    finally:
        if views:
            kept = views[0].side(views[0].kept)
            answer = kept.answer if kept else ""
            steps = [run.id if run else None, views[0].message.id]
            saved.record_entry(state.saving, message, text, answer, steps)
        saved.save_thread_state(state.settings, think=state.think)
        saved.watch_saving(state.saving)


async def _label(message: cl.Message, label: str) -> None:
    """The bubble shows the mode it was sent in; its text is made safe for LaTeX too."""
    content = normalize_math(message.content or "")
    if message.command != label or message.content != content:
        message.command, message.content = label, content
        await message.update()


async def compare_keep(action: cl.Action) -> None:
    state = _state()
    if problem := await compare.keep(action.payload, state.history, state.lock):
        await note(problem)
        return
    view: compare.CompareView = cl.user_session.get(compare.SESSION_KEY)
    kept = view.side(view.kept)
    saved.replace_answer(state.saving, view.message.id, kept.answer if kept else "")


async def answer_again(action: cl.Action) -> None:
    state = _state()
    replaced: regenerate.Offer | None = cl.user_session.get(regenerate.SESSION_KEY)
    views: list[AnswerView] = []
    args = (get_client(), state.history, state.settings, state.lock, views.append)
    if problem := await regenerate.answer_again(action.payload, *args):
        await note(problem)
    elif replaced is not None and views and (answer := views[0].message) is not None:
        reasoning = views[0].step  # the run, the reasoning step and the answer
        new_steps = [answer.parent_id, reasoning.id if reasoning else None, answer.id]
        saved.replace_answer(state.saving, replaced.message.id, views[0].answer, new_steps)


async def resume_chat(thread: ThreadDict) -> None:
    """Reopen a saved conversation: the model's history, settings and Think state."""
    state = _state()
    transcript = saved.read_thread(thread)
    state.saving.entries = saved.entries_from(transcript)
    state.history = saved.history_from(state.saving.entries)
    state.settings, state.think = saved.restore_settings(transcript.saved)
    interval_s = get_config().stream_flush_ms / 1000
    compare_saved.restore(thread, transcript, state.history, interval_s=interval_s)
    commands: list[CommandDict] = [
        {**c, "selected": state.think} if c["id"] == THINK_COMMAND else c for c in COMMANDS
    ]
    await _open(state, commands)
    await regenerate.restore(thread, transcript)


@lru_cache(maxsize=1)
def data_layer() -> StoreDataLayer | None:
    """The conversation store (Chainlit's data layer), or None when history is off."""
    return saved.open_layer(get_config())


async def end_chat() -> None:
    # Runs on every disconnect. Our ChatState stays: a tab that reconnects within
    # session_timeout gets its session (and the model's view of the chat) back, and
    # Chainlit frees the session's user data when it clears the session. Its list of the
    # session's messages (chat_context) is never freed by Chainlit 2.12 at all: drop it.
    chat_contexts.pop(cl.context.session.id, None)
    METRICS.session_closed(cl.context.session.id)
