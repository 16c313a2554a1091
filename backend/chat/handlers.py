"""Chainlit handlers behind app.py's hooks: one chat session's life.

Each session keeps its history, its settings and a lock: one answer at a time per
session, and a second message waits its turn (and says so). Every failure a user can
cause or meet ends in a plain message in the chat, never a stack trace.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass, field
from functools import lru_cache

import chainlit as cl
from chainlit.chat_context import chat_contexts
from chainlit.types import CommandDict

from backend.chat import budget, compare, regenerate, routes
from backend.chat.history import History
from backend.chat.mathtext import normalize_math
from backend.chat.modes import THINK_COMMAND, resolve_mode
from backend.chat.panel import build_widgets
from backend.chat.settings import SAMPLING_FIELDS, SettingsState
from backend.chat.starters import STARTERS
from backend.chat.status import show_status
from backend.chat.turn import run_turn
from backend.config import Config
from backend.server.client import ChatClient

STATUS_COMMAND = "Status"
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
    state = _state()
    await cl.context.emitter.set_commands(COMMANDS)
    await cl.context.emitter.set_modes([budget.budget_mode()])
    widgets = build_widgets(state.settings.current, mode_fields=SAMPLING_FIELDS)
    await cl.ChatSettings(widgets).send()


async def update_settings(raw: dict) -> None:
    notes = _state().settings.update(raw)
    if notes:
        await note("Some settings were adjusted:\n" + "\n".join(f"- {n}" for n in notes))


async def handle_message(message: cl.Message) -> None:
    if message.command == STATUS_COMMAND:
        await show_status(get_client())
        return
    comparing = message.command == compare.COMMAND
    mode = resolve_mode(message.content or "", button_on=message.command == THINK_COMMAND)
    if not mode.text:
        await note("Your message is empty, so nothing was sent. Type a question first.")
        return
    # Queue before any await, so answers come in the order the messages were sent.
    state = _state()
    if state.lock.locked():
        await note("Still answering your previous message; this one is next in line.")
    choice = budget.chosen(getattr(message, "modes", None))
    async with state.lock:
        await regenerate.withdraw()
        shown = compare.COMMAND if comparing else mode.label
        await _label(message, budget.label(shown, choice, thinking=comparing or mode.thinking))
        if comparing:
            await cl.context.emitter.set_commands(COMMANDS)  # Think is selected again
            args = (get_client(), state.history, state.settings, mode.text, choice)
            await compare.run_compare(*args)
            return
        view = await run_turn(get_client(), state.history, state.settings, mode, choice.tokens)
        await regenerate.offer(view.message, mode.thinking, choice.tokens)


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


async def answer_again(action: cl.Action) -> None:
    state = _state()
    args = (get_client(), state.history, state.settings, state.lock)
    if problem := await regenerate.answer_again(action.payload, *args):
        await note(problem)


async def end_chat() -> None:
    # Runs on every disconnect. Our ChatState stays: a tab that reconnects within
    # session_timeout gets its session (and the model's view of the chat) back, and
    # Chainlit frees the session's user data when it clears the session. Its list of the
    # session's messages (chat_context) is never freed by Chainlit 2.12 at all: drop it.
    chat_contexts.pop(cl.context.session.id, None)


def auth_enabled() -> bool:
    return bool(get_config().chat_password)


def check_password(username: str, password: str) -> cl.User | None:
    config = get_config()
    ok_user = hmac.compare_digest(username.encode(), config.chat_username.encode())
    ok_password = hmac.compare_digest(password.encode(), config.chat_password.encode())
    if ok_user and ok_password:
        return cl.User(identifier=username, metadata={"role": "user"})
    return None
