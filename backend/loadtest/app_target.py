"""The app target: the chat answered through the Chainlit app, timed as a browser receives it.

Each request opens its own Chainlit session over socket.io (as a fresh browser tab does, so no
chat history grows between requests and the workload matches the direct target):

0. once per target, sign in as the chat's local user when it runs without login
   (``backend.auth.client``; the cookie goes with every connection);
1. connect to ``<app>/ws/socket.io`` (websocket transport) with the browser's auth payload
   ``{clientType: "webapp", sessionId: <uuid4>, threadId: "", userEnv: "{}", chatProfile: ""}``;
2. emit ``connection_successful`` (the server then runs ``on_chat_start``);
3. start the clock and emit ``client_message`` with
   ``{"message": <user step>, "fileReferences": []}``;
4. the server answers ``task_start``, then ``stream_start`` / ``stream_token`` per streamed step
   (the answer and any reasoning step), ``new_message`` / ``update_message``, and ``task_end``;
5. emit ``clear_session`` and disconnect.

A ``stream_start`` carrying text (Chainlit sends the first token in it) and every
``stream_token`` event are one chunk each. Only steps descending from the user message count
(see ``AnswerTracker``). Only when an answer streamed nothing does the last message sent whole
(``new_message``) count, as one chunk. Output tokens are the delivered text counted by the model
server's ``/tokenize`` when a counter is given, else whitespace-separated words.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import socketio

from backend.auth.client import login_cookie
from backend.loadtest.direct import error_kind, timed_result
from backend.loadtest.metrics import RequestResult
from backend.loadtest.workload import RequestSpec

TextCounter = Callable[[str], Awaitable[int | None]]


@dataclass
class AnswerTracker:
    """Pure state of one answer, fed socket events in arrival order (no I/O).

    The answer is every step descending from the user message (``parentId`` chains: message ->
    ``on_message`` run -> answer and reasoning steps), so a greeting from ``on_chat_start``,
    which descends from its own run, never counts. Tasks nest (``on_chat_start`` runs as a task
    too), so the answer is done when the task depth returns to zero after our run began.
    """

    message_id: str = ""
    depth: int = 0
    done: bool = False
    error: str = ""
    events: int = 0
    arrivals: list[float] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    ours: set[str] = field(default_factory=set)
    streamed: set[str] = field(default_factory=set)
    whole: list[tuple[float, str, str]] = field(default_factory=list)  # unstreamed messages

    def feed(self, event: str, data: Any, now: float) -> None:
        self.events += 1
        data = data if isinstance(data, dict) else {}
        if event == "task_start":
            self.depth += 1
        elif event == "task_end":
            self.depth = max(self.depth - 1, 0)  # the connect-time task_end has no start
            if self.depth == 0 and len(self.ours) > 1:
                self._finish()
        elif event in ("new_message", "update_message", "stream_start"):
            self._step(event, data, now)
        elif event == "stream_token":
            self._token(data, now)

    def _step(self, event: str, data: dict[str, Any], now: float) -> None:
        step_id = str(data.get("id"))
        if data.get("isError") and self.ours:
            self.error = "AppErrorMessage"
        if data.get("parentId") in self.ours or step_id == self.message_id:
            self.ours.add(step_id)
        if step_id not in self.ours or data.get("type") in ("user_message", "run"):
            return
        if event == "stream_start":  # Chainlit puts the first token in the stream's output
            self.streamed.add(step_id)
            if data.get("output"):
                self.arrivals.append(now)
                self.texts[step_id] = data["output"]
        elif event == "new_message" and step_id not in self.streamed and data.get("output"):
            self.whole.append((now, step_id, data["output"]))

    def _token(self, data: dict[str, Any], now: float) -> None:
        step_id = str(data.get("id"))
        token = data.get("token") or ""
        if step_id not in self.ours or data.get("isInput") or not token:
            return
        self.arrivals.append(now)
        previous = "" if data.get("isSequence") else self.texts.get(step_id, "")
        self.texts[step_id] = previous + token

    def _finish(self) -> None:
        self.done = True
        if not self.arrivals and self.whole:  # the app answered without streaming
            at, step_id, text = self.whole[-1]
            self.arrivals.append(at)
            self.texts[step_id] = text

    @property
    def text(self) -> str:
        return "".join(self.texts.values())


def user_message(spec: RequestSpec, app_url: str, think_command: str) -> dict[str, Any]:
    """The step a browser sends for a typed message (Chainlit 2.12 front end)."""
    message: dict[str, Any] = {
        "threadId": "",
        "id": str(uuid.uuid4()),
        "name": "User",
        "type": "user_message",
        "output": spec.prompt,
        "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "metadata": {"location": app_url},
    }
    if spec.thinking and think_command:
        message["command"] = think_command
    return message


class AppTarget:
    def __init__(
        self,
        app_url: str,
        *,
        count_text: TextCounter | None = None,
        think_command: str = "Think",
        timeout_s: float = 600.0,
    ):
        self.app_url = app_url.rstrip("/")
        self.count_text, self.think_command, self.timeout_s = count_text, think_command, timeout_s
        self._cookie: str | None = None

    async def _connect(
        self, tracker: AnswerTracker, answered: asyncio.Event
    ) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("*")
        async def any_event(event: str, data: Any = None) -> None:
            tracker.feed(event, data, time.perf_counter())
            if tracker.done:
                answered.set()

        auth = {
            "clientType": "webapp",
            "sessionId": str(uuid.uuid4()),
            "threadId": "",
            "userEnv": "{}",
            "chatProfile": "",
        }
        if self._cookie is None:
            self._cookie = await login_cookie(self.app_url)
        await sio.connect(
            self.app_url,
            auth=auth,
            headers={"Cookie": self._cookie} if self._cookie else {},
            transports=["websocket"],
            socketio_path="/ws/socket.io",
            wait_timeout=min(self.timeout_s, 30),
        )
        await sio.emit("connection_successful")
        return sio

    async def send(self, spec: RequestSpec) -> RequestResult:
        tracker, answered = AnswerTracker(), asyncio.Event()
        sio: socketio.AsyncClient | None = None
        start = time.perf_counter()
        try:
            sio = await asyncio.wait_for(self._connect(tracker, answered), self.timeout_s)
            tracker.events = 0  # count only the events of this answer
            message = user_message(spec, self.app_url, self.think_command)
            tracker.message_id = message["id"]
            tracker.ours.add(message["id"])
            payload = {"message": message}
            start = time.perf_counter()
            await sio.emit("client_message", {**payload, "fileReferences": []})
            await asyncio.wait_for(answered.wait(), self.timeout_s)
        except Exception as exc:  # a RequestResult never raises
            return RequestResult(False, start, error=error_kind(exc), thinking=spec.thinking)
        finally:
            if sio is not None:
                await _close(sio)
        return await self._result(spec, start, tracker)

    async def _result(
        self, spec: RequestSpec, start: float, tracker: AnswerTracker
    ) -> RequestResult:
        if tracker.error:
            return RequestResult(False, start, error=tracker.error, thinking=spec.thinking)
        text = tracker.text
        tokens = await self.count_text(text) if self.count_text and text else None
        return timed_result(
            start,
            tracker.arrivals,
            tokens if tokens is not None else len(text.split()),
            spec.prompt_tokens or 0,
            spec.thinking,
            socket_events=tracker.events,
        )


async def _close(sio: socketio.AsyncClient) -> None:
    try:
        if sio.connected:
            await sio.emit("clear_session")  # lets the server drop the session at once
        await sio.disconnect()
    except Exception:  # closing a broken socket must not turn a result into a crash
        pass
