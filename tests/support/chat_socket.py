"""Drive the chat the way a browser does: Chainlit 2.12's socket.io protocol.

`ChatSession` is one browser tab (of a `tests.support.chat_app.ChatApp`): it connects
with the front end's auth payload, sends typed messages and settings, presses Stop, and
keeps what its user would see — every message and step with its final content (streamed
tokens applied in order). The handshake is the load tester's
(``backend.loadtest.chat_socket.ChatSocket``), written once.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from backend.auth.client import login_cookie
from backend.loadtest.chat_socket import ChatSocket, user_message

ACK_LIMIT_S = 30.0


@dataclass
class Shown:
    """One message or step as the user sees it once the events settle."""

    id: str
    type: str  # assistant_message, llm (the reasoning step), run, …
    author: str
    content: str
    parent_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    is_error: bool = False
    versions: list[str] = field(default_factory=list)  # each text it showed, in order


@dataclass
class Reply:
    items: list[Shown]

    @property
    def notes(self) -> list[str]:
        """Messages from the chat itself (empty message, queueing, loading, context…)."""
        return [i.content for i in self.items if i.author == "Chat"]

    @property
    def answers(self) -> list[Shown]:
        return [
            i
            for i in self.items
            if i.type == "assistant_message" and i.author != "Chat" and not i.is_error
        ]

    @property
    def answer(self) -> str:
        """The last answer message: the model's text plus any italic note under it."""
        return self.answers[-1].content if self.answers else ""

    @property
    def reasoning(self) -> list[str]:
        return [i.content for i in self.items if i.type == "llm"]

    @property
    def errors(self) -> list[str]:
        # Chainlit marks a stopped run step as an error; the user never sees run steps.
        return [i.content for i in self.items if i.is_error and i.type != "run"]

    def notes_shown(self) -> list[str]:
        """Every text a chat note showed, including ones later replaced."""
        return [v for i in self.items if i.author == "Chat" for v in i.versions]

    def text(self) -> str:
        return "\n".join(i.content for i in self.items)


@dataclass
class ChatSession:
    """One browser tab. Use ``async with ChatSession(url) as tab``."""

    url: str
    cookie: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # submitted once connected
    shown: dict[str, Shown] = field(default_factory=dict)
    depth: int = 0
    attempted: list[str] = field(default_factory=list)  # ids of every message emitted
    sent: list[str] = field(default_factory=list)  # ids the server acknowledged receiving
    answered: set[str] = field(default_factory=set)  # ids whose on_message run ended
    chat_started: bool = False
    events: list[str] = field(default_factory=list)
    received: list[tuple[str, Any]] = field(default_factory=list)  # every event with its data
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    thread_id: str = ""  # set to resume a saved conversation; learnt on the first message
    resumed: dict[str, Any] | None = None  # the saved conversation the server sent back
    resume_error: str = ""  # what the server said when it could not resume
    deleted: list[str] = field(default_factory=list)  # ids the server took off the screen
    runs_ended: int = 0  # on_message runs finished (an edit re-runs one)
    elements: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # id -> versions
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    socket: ChatSocket | None = None

    async def __aenter__(self) -> ChatSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout_s: float = 30.0) -> None:
        if not self.cookie:  # the local user's, when the chat runs without login
            self.cookie = await login_cookie(self.url)
        self.socket = ChatSocket(
            self.url,
            self._on_event,
            cookie=self.cookie,
            session_id=self.session_id,
            thread_id=self.thread_id,
        )
        await self.socket.open(timeout_s)
        if self.thread_id:  # a resumed conversation does not run on_chat_start
            await self.wait_for(lambda: self.resumed is not None or self.resume_error, timeout_s)
            if self.resumed is not None:
                return
        # Like a person, wait for the chat to open: Chainlit makes on_chat_start the task that
        # Stop cancels, so a message sent before it ends could not be stopped.
        await self.wait_for(lambda: self.chat_started, timeout_s)
        if self.settings:
            await self.socket.apply_settings(self.settings, timeout_s)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def _on_event(self, event: str, data: Any = None) -> None:
        self.events.append(event)
        self.received.append((event, data))
        data = data if isinstance(data, dict) else {}
        if event == "task_start":
            self.depth += 1
        elif event == "task_end":  # connecting sends one without a start
            self.depth = max(self.depth - 1, 0)
        elif event in ("new_message", "update_message", "stream_start"):
            self._step(data)
        elif event == "stream_token":
            self._token(data)
        elif event == "first_interaction":
            self.thread_id = data.get("thread_id") or self.thread_id
        elif event == "resume_thread":
            self.resumed = data
        elif event == "resume_thread_error":
            self.resume_error = str(data or "error")
        elif event == "delete_message":
            self.deleted.append(str(data.get("id")))
        elif event == "element":
            self.elements.setdefault(str(data.get("id")), []).append(data)
        self._changed.set()

    def _step(self, data: dict[str, Any]) -> None:
        step_id = str(data.get("id"))
        item = self.shown.get(step_id) or Shown(step_id, "", "", "")
        item.type = data.get("type") or item.type
        item.author = data.get("name") or item.author
        item.parent_id = data.get("parentId") or item.parent_id
        item.is_error = bool(data.get("isError")) or item.is_error
        item.metadata = data.get("metadata") or item.metadata
        if item.type == "run" and item.author == "on_message" and data.get("end"):
            self.answered.add(str(item.parent_id))
            self.runs_ended += 1
        if item.type == "run" and item.author == "on_chat_start" and data.get("end"):
            self.chat_started = True
        if data.get("output") is not None:
            item.content = data["output"]
            if not item.versions or item.versions[-1] != item.content:
                item.versions.append(item.content)
        self.shown[step_id] = item

    def _token(self, data: dict[str, Any]) -> None:
        item = self.shown.get(str(data.get("id")))
        if item is None or data.get("isInput"):
            return
        token = data.get("token") or ""
        item.content = token if data.get("isSequence") else item.content + token

    def mark(self) -> int:
        return len(self.shown)

    def since(self, mark: int) -> Reply:
        return Reply([i for i in list(self.shown.values())[mark:] if i.type != "user_message"])

    async def send(
        self,
        text: str,
        *,
        think: bool = False,
        extra: dict[str, Any] | None = None,
        confirm: bool = True,
    ) -> str:
        """Send a typed message as the composer does; returns its id once the server has it.

        Waits for the server's acknowledgement (not for the answer): a message counts as
        sent only then, so a socket that drops during the emit leaves it in ``attempted``.
        ``confirm=False`` only emits it, for a message the server is expected to refuse (it
        answers with the reason and closes the socket, so no acknowledgement comes).
        """
        assert self.socket is not None
        message = user_message(text, self.url, "Think" if think else None)
        message.update(extra or {})
        self.attempted.append(message["id"])
        await self.socket.send(message, ack_timeout_s=ACK_LIMIT_S if confirm else None)
        if confirm:
            self.sent.append(message["id"])
        return message["id"]

    async def ask(self, text: str, *, think: bool = False, timeout_s: float = 120.0) -> Reply:
        """Send and wait until the answer is complete; what appeared meanwhile."""
        mark = self.mark()
        await self.send(text, think=think)
        await self.wait_idle(timeout_s)
        return self.since(mark)

    async def wait_for(self, predicate, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no such state within {timeout_s:g} s; events: {self.tail()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Every message sent so far has been handled: its on_message run and task ended.

        Tasks alone do not say it: on_chat_start and settings updates run as tasks too.
        """
        await self.wait_for(
            lambda: self.depth == 0 and self.answered.issuperset(self.sent), timeout_s
        )

    async def change_settings(self, values: dict[str, Any], timeout_s: float = 10.0) -> Reply:
        """Submit the settings panel; the note it caused, if any (the server has handled it)."""
        assert self.socket is not None
        mark = self.mark()
        await self.socket.apply_settings(values, timeout_s)
        return self.since(mark)

    async def edit(self, message_id: str, text: str, timeout_s: float = 120.0) -> None:
        """Edit a message sent earlier (the pencil), and wait until its re-run ends."""
        assert self.socket is not None
        runs = self.runs_ended
        message = {
            "id": message_id,
            "threadId": self.thread_id,
            "type": "user_message",
            "name": "User",
            "output": text,
        }
        await self.socket.emit("edit_message", {"message": message})
        await self.wait_for(lambda: self.runs_ended > runs and self.depth == 0, timeout_s)

    async def stop(self) -> None:
        """The Stop button."""
        assert self.socket is not None
        await self.socket.emit("stop")

    def tail(self, n: int = 12) -> list[str]:
        return self.events[-n:]
