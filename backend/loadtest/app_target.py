"""The app target: the chat answered through the Chainlit app, timed as a browser receives it.

Each request opens its own Chainlit session (``ChatSocket``: the browser's handshake), as a
fresh browser tab does, so no chat history grows between requests and the workload matches the
direct target. With ``turns`` above 1 a session is kept for that many requests in a row, a
conversation of that many answers (what a session costs the chat, e.g. saving a new
conversation, is then shared; the chat's prompts then carry the earlier answers, which the
direct target's do not). Before the clock starts it submits the settings panel with the request's
``max_tokens`` and temperature 0 (``APP_SETTINGS``: what the direct target sends), and the
message carries the Think command when the request thinks, so both targets ask the model for
the same lengths in the same mode. Its sockets carry the login cookie it is given (the
command line signs in once per run, see ``app_login``); given none, it signs in once as the
chat's local user when the chat runs without login (``backend.auth.client``). Then it starts
the clock and sends the message; the server answers ``task_start``, ``stream_start`` /
``stream_token`` per streamed step (the answer and any reasoning step), ``new_message`` /
``update_message``, and ``task_end``.

A ``stream_start`` carrying text (Chainlit sends the first token in it) and every
``stream_token`` event are one chunk each. Only steps descending from the user message count
(see ``AnswerTracker``). Only when an answer streamed nothing does the last message sent whole
(``new_message``) count, as one chunk.

Output tokens are the server's own usage, read from the stats line the chat puts under each
answer (``… · 30 reasoning tokens · 226 answer tokens · …``, see ``usage_tokens``). An app
without that line falls back to the delivered text counted by ``/tokenize`` (re-tokenizing
decoded text need not give the generated count), else to whitespace words; each result says
which (``tokens_from``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from backend.auth.client import login_cookie
from backend.loadtest.chat_socket import ChatSocket, user_message
from backend.loadtest.direct import error_kind, timed_result
from backend.loadtest.metrics import RequestResult
from backend.loadtest.workload import RequestSpec

TextCounter = Callable[[str], Awaitable[int | None]]
STATS_LINE = re.compile(r"\*([^*\n]*\banswer tokens\b[^*\n]*)\*\s*$")
REASONING_TOKENS = re.compile(r"\b(\d+) reasoning tokens\b")
ANSWER_TOKENS = re.compile(r"\b(\d+) answer tokens\b")


def app_settings(spec: RequestSpec) -> dict[str, Any]:
    """The settings panel values that make the chat ask what the direct target asks."""
    return {"max_tokens": spec.max_tokens, "temperature": 0.0}


def usage_tokens(answer_text: str) -> int | None:
    """Reasoning + answer tokens from the stats line ending the chat's answer, if it has one."""
    line = STATS_LINE.search(answer_text)
    if line is None:
        return None
    answer = ANSWER_TOKENS.search(line.group(1))
    reasoning = REASONING_TOKENS.search(line.group(1))
    if answer is None:
        return None
    return int(answer.group(1)) + (int(reasoning.group(1)) if reasoning else 0)


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
    final: dict[str, str] = field(default_factory=dict)  # last full text of each of our steps

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
        if event != "stream_start" and isinstance(data.get("output"), str):
            self.final[step_id] = data["output"]
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


@dataclass
class Conversation:
    """One open chat session and the answer its events go to now."""

    socket: ChatSocket | None = None
    tracker: AnswerTracker = field(default_factory=AnswerTracker)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    settings: dict[str, Any] | None = None  # the panel values last submitted
    answers: int = 0

    async def on_event(self, event: str, data: Any = None) -> None:
        self.tracker.feed(event, data, time.perf_counter())
        if self.tracker.done:
            self.answered.set()

    def next_answer(self) -> None:
        # The task depth carries over: on_chat_start's task may still be open at the first.
        self.tracker = AnswerTracker(depth=self.tracker.depth)
        self.answered = asyncio.Event()


class AppTarget:
    def __init__(
        self,
        app_url: str,
        *,
        count_text: TextCounter | None = None,
        think_command: str = "Think",
        timeout_s: float = 600.0,
        set_lengths: bool = True,
        cookie: str | None = None,
        turns: int = 1,
    ):
        self.app_url = app_url.rstrip("/")
        self.count_text, self.think_command, self.timeout_s = count_text, think_command, timeout_s
        self.set_lengths = set_lengths
        self._cookie = cookie  # None: the local user's login, fetched once
        self.turns = max(1, turns)
        self._idle: list[Conversation] = []  # open, with answers left
        self._closed = False  # after close(), sessions are closed after their answer
        self.opened = 0  # sessions opened so far

    async def _open(self) -> Conversation:
        while self._idle:
            conversation = self._idle.pop()
            if conversation.socket is not None and conversation.socket.connected:
                return conversation
            await self._done(conversation, keep=False)  # the server dropped it
        if self._cookie is None:
            self._cookie = await login_cookie(self.app_url)
        conversation = Conversation()
        conversation.socket = ChatSocket(self.app_url, conversation.on_event, cookie=self._cookie)
        self.opened += 1
        try:
            await conversation.socket.open(min(self.timeout_s, 30))
        except BaseException:
            await conversation.socket.close()
            raise
        return conversation

    async def _prepare(self, spec: RequestSpec) -> Conversation:
        conversation = await self._open()
        settings = app_settings(spec) if self.set_lengths else None
        try:
            if settings is not None and settings != conversation.settings:
                assert conversation.socket is not None
                await conversation.socket.apply_settings(settings, min(self.timeout_s, 30))
                conversation.settings = settings
        except BaseException:
            await self._done(conversation, keep=False)
            raise
        return conversation

    async def _done(self, conversation: Conversation, *, keep: bool) -> None:
        conversation.answers += 1
        if keep and conversation.answers < self.turns and not self._closed:
            self._idle.append(conversation)
        elif conversation.socket is not None:
            await conversation.socket.close()

    async def send(self, spec: RequestSpec) -> RequestResult:
        conversation: Conversation | None = None
        start = time.perf_counter()
        try:
            conversation = await asyncio.wait_for(self._prepare(spec), self.timeout_s)
            conversation.next_answer()  # count only the events of this answer
            tracker, socket = conversation.tracker, conversation.socket
            assert socket is not None
            command = self.think_command if spec.thinking and self.think_command else None
            message = user_message(spec.prompt, self.app_url, command)
            tracker.message_id = message["id"]
            tracker.ours.add(message["id"])
            start = time.perf_counter()
            await socket.send(message)
            await asyncio.wait_for(conversation.answered.wait(), self.timeout_s)
        except BaseException as exc:
            if conversation is not None:
                await self._done(conversation, keep=False)
            if not isinstance(exc, Exception):
                raise  # cancelled: the session is closed all the same
            return RequestResult(False, start, error=error_kind(exc), thinking=spec.thinking)
        await self._done(conversation, keep=not tracker.error)
        return await self._result(spec, start, tracker)

    async def close(self) -> None:
        """Close the sessions kept for more answers (and any still answering, when done)."""
        self._closed = True
        while self._idle:
            await self._done(self._idle.pop(), keep=False)

    async def _tokens(self, tracker: AnswerTracker) -> tuple[int, str]:
        for text in reversed(list(tracker.final.values())):
            if (tokens := usage_tokens(text)) is not None:
                return tokens, "usage"
        text = tracker.text
        counted = await self.count_text(text) if self.count_text and text else None
        if counted is not None:
            return counted, "tokenize"
        return len(text.split()), "words"

    async def _result(
        self, spec: RequestSpec, start: float, tracker: AnswerTracker
    ) -> RequestResult:
        if tracker.error:
            return RequestResult(False, start, error=tracker.error, thinking=spec.thinking)
        tokens, source = await self._tokens(tracker)
        return timed_result(
            start,
            tracker.arrivals,
            tokens,
            spec.prompt_tokens or 0,
            spec.thinking,
            socket_events=tracker.events,
            tokens_from=source,
        )
