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

from backend.auth.hooks import forget_refused_resume
from backend.chat import routes, saved
from backend.chat.history import History
from backend.chat.modes import THINK_COMMAND, resolve_mode
from backend.chat.panel import build_widgets
from backend.chat.settings import SAMPLING_FIELDS, SettingsState
from backend.chat.starters import STARTERS
from backend.chat.status import show_status
from backend.chat.turn import run_turn
from backend.config import Config
from backend.server.client import ChatClient

STATUS_COMMAND = "Status"
EXPORT_COMMAND = "Export"
COMMANDS = [
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
    state = _state()
    await cl.context.emitter.set_commands(COMMANDS)
    widgets = build_widgets(state.settings.current, mode_fields=SAMPLING_FIELDS)
    await cl.ChatSettings(widgets).send()
    await saved.announce_history_off()


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
    if message.command == STATUS_COMMAND:
        await show_status(get_client())
        return
    if message.command == EXPORT_COMMAND:
        await saved.export({STATUS_COMMAND, EXPORT_COMMAND})
        return
    mode = resolve_mode(message.content or "", button_on=message.command == THINK_COMMAND)
    if not mode.text:
        await note("Your message is empty, so nothing was sent. Type a question first.")
        return
    # Queue before any await, so answers come in the order the messages were sent.
    state = _state()
    if state.lock.locked():
        await note("Still answering your previous message; this one is next in line.")
    async with state.lock:
        state.think = message.command == THINK_COMMAND
        if (kept := await saved.undo_after(state.saving, message)) is not None:
            state.history = saved.history_from(kept)  # an edit: re-run from this message
        if message.command != mode.label:
            message.command = mode.label  # the bubble shows the mode it was sent in
            await message.update()
        await _saved_turn(state, message, mode)


async def _saved_turn(state: ChatState, message: cl.Message, mode) -> None:
    """Run the turn; record it for edits, keep settings with the thread, watch saving."""
    views = []
    run = cl.context.current_step
    await saved.notice_unsaved(state.saving)
    try:
        await run_turn(get_client(), state.history, state.settings, mode, on_view=views.append)
    finally:
        if views:
            saved.record_turn(state.saving, message, mode.text, views[0], run.id if run else None)
        saved.save_thread_state(state.settings, think=state.think)
        saved.watch_saving(state.saving)


async def resume_chat(thread: dict) -> None:
    """Reopen a saved conversation: the model's history, settings and Think state."""
    state = _state()
    transcript = saved.read_thread(thread)
    state.saving.entries = saved.entries_from(transcript)
    state.history = saved.history_from(state.saving.entries)
    state.settings, state.think = saved.restore_settings(transcript.saved)
    commands = [{**c, "selected": state.think} if c["id"] == THINK_COMMAND else c for c in COMMANDS]
    await cl.context.emitter.set_commands(commands)
    widgets = build_widgets(state.settings.current, mode_fields=SAMPLING_FIELDS)
    await cl.ChatSettings(widgets).send()


@lru_cache(maxsize=1)
def data_layer():
    """The conversation store (Chainlit's data layer), or None when history is off."""
    return saved.open_layer(get_config())


async def end_chat() -> None:
    # Runs on every disconnect. Our ChatState stays: a tab that reconnects within
    # session_timeout gets its session (and the model's view of the chat) back, and
    # Chainlit frees the session's user data when it clears the session. Its list of the
    # session's messages (chat_context) is never freed by Chainlit 2.12 at all: drop it.
    chat_contexts.pop(cl.context.session.id, None)
