"""One Chainlit 2.12 session over socket.io, opened the way a browser tab opens it.

The handshake, written once for the load tester's app target and the test suite's chat tabs:

1. connect to ``<app>/ws/socket.io`` (websocket transport) with the front end's auth payload
   ``{clientType: "webapp", sessionId: <uuid4>, threadId: "", userEnv: "{}", chatProfile: ""}``
   (plus the login cookie, when the app asks for one);
2. emit ``connection_successful`` (the server then runs ``on_chat_start`` as a task);
3. optionally submit the settings panel: ``chat_settings_change`` with ``{field: value}``, the
   message the panel's Confirm sends. It is sent with an acknowledgement: python-socketio
   handles events concurrently, so only the ack proves the settings are in place before a
   message that must use them;
4. ``client_message`` with ``{"message": <user step>, "fileReferences": []}`` per message;
5. ``clear_session`` (acknowledged, so the disconnect cannot overtake it and the server drops
   the session at once instead of keeping it for ``session_timeout``), then disconnect.

Every server event goes to ``on_event(event, data)`` in arrival order. A refused connection
raises socketio's ``ConnectionError`` with the server's reason (``refusal``) in its message.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import socketio

SOCKET_PATH = "/ws/socket.io"
OnEvent = Callable[[str, Any], Awaitable[None]]


def browser_auth(session_id: str = "", thread_id: str = "") -> dict[str, str]:
    """The auth payload Chainlit's front end sends for a tab (``thread_id``: a resumed chat)."""
    return {
        "clientType": "webapp",
        "sessionId": session_id or str(uuid.uuid4()),
        "threadId": thread_id,
        "userEnv": "{}",
        "chatProfile": "",
    }


def user_message(text: str, app_url: str, command: str | None = None) -> dict[str, Any]:
    """The step a browser sends for a typed message (``command``: a composer button)."""
    message: dict[str, Any] = {
        "threadId": "",
        "id": str(uuid.uuid4()),
        "name": "User",
        "type": "user_message",
        "output": text,
        "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "metadata": {"location": app_url},
    }
    if command:
        message["command"] = command
    return message


class ChatSocket:
    """A socket.io client speaking Chainlit's browser protocol; ``open`` then ``close``."""

    def __init__(
        self,
        url: str,
        on_event: OnEvent,
        cookie: str = "",
        session_id: str = "",
        thread_id: str = "",
    ):
        self.url, self.cookie = url.rstrip("/"), cookie
        self.session_id, self.thread_id = session_id, thread_id
        self.refusal = ""  # why the server refused the connection, if it did
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("*", on_event)
        self.sio.on("connect_error", self._refused)

    async def _refused(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, dict) else data
        self.refusal = str(message or "the connection was refused")

    @property
    def connected(self) -> bool:
        return bool(self.sio.connected)

    async def open(self, timeout_s: float = 30.0) -> None:
        """Steps 1 and 2: connect and announce the tab."""
        try:
            await self.sio.connect(
                self.url,
                auth=browser_auth(self.session_id, self.thread_id),
                headers={"Cookie": self.cookie} if self.cookie else {},
                transports=["websocket"],
                socketio_path=SOCKET_PATH,
                wait_timeout=timeout_s,
            )
        except socketio.exceptions.ConnectionError as exc:
            if not self.refusal:
                raise
            raise socketio.exceptions.ConnectionError(
                f"{self.url} refused the chat: {self.refusal}"
            ) from exc
        await self.sio.emit("connection_successful")

    async def apply_settings(self, values: dict[str, Any], timeout_s: float = 30.0) -> None:
        """Step 3: submit the settings panel and wait until the server has handled it."""
        await self.sio.call("chat_settings_change", values, timeout=timeout_s)

    async def send(self, message: dict[str, Any], ack_timeout_s: float | None = None) -> None:
        """Step 4: one typed message (see ``user_message``); with ``ack_timeout_s``, returns
        only once the server acknowledged receiving it (raises if it did not in time)."""
        payload = {"message": message, "fileReferences": []}
        if ack_timeout_s is None:
            await self.sio.emit("client_message", payload)
        else:
            await self.sio.call("client_message", payload, timeout=ack_timeout_s)

    async def emit(self, event: str, data: Any = None) -> None:
        """Any other browser event (``stop`` is the Stop button)."""
        await self.sio.emit(event, data)

    async def close(self) -> None:
        """Step 5; never raises (the server may have dropped the socket already)."""
        try:
            if self.sio.connected:
                await self.sio.call("clear_session", timeout=10)
            await self.sio.disconnect()
        except Exception:  # a broken socket must not turn a result into a crash
            pass
