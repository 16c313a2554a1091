"""A recording, fault-injecting HTTP proxy in front of the real vLLM server.

The front end talks to the proxy as if it were vLLM; the proxy forwards every request
upstream and streams the answer back event by event, unless a `Fault` says otherwise:
stall after n events (the connection stays open, nothing more is sent), garble an event,
cut the connection, answer a scripted HTTP status, rewrite the request body (so the
real vLLM produces its own error), or replace the answer's text (to show outputs the demo
model cannot write, such as Qwen3's LaTeX). It records each chat request's JSON body, so tests can
check what the front end really sent. It runs in its own thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

CHAT_PATH = "/v1/chat/completions"
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class Fault:
    stall_after: int | None = None  # SSE events forwarded before going silent
    garble_after: int | None = None  # this event is replaced by broken JSON
    cut_after: int | None = None  # the connection is closed after this many events
    status: int | None = None  # answer this HTTP status instead of forwarding
    hold_s: float = 0.0  # silence before forwarding at all (no headers yet)
    event_delay_s: float = 0.0  # pause before each event: a slow but healthy stream
    body_update: dict[str, Any] = field(default_factory=dict)  # merged into the request
    # The answer text the real server streams is replaced by this one (spread over its
    # content events, the rest with the final one); reasoning, timing, usage stay real.
    answer_text: str | None = None
    # When set, the fault applies only to requests with this enable_thinking (one side
    # of a comparison); the others pass untouched.
    only_thinking: bool | None = None


@dataclass
class ChatRecord:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class FaultProxy:
    def __init__(self, upstream_root: str, port: int):
        self.upstream_root = upstream_root.rstrip("/")
        self.port = port
        self.fault = Fault()
        self.record = ChatRecord()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def reset(self, fault: Fault | None = None) -> None:
        self.fault = fault or Fault()
        self.record = ChatRecord()

    async def _start(self) -> None:
        self._session = ClientSession(timeout=ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A stalled handler ends when its client hangs up, and shutdown does not wait long.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if request.path != CHAT_PATH:
            return await self._forward(request, raw)
        body = json.loads(raw)
        self.record.bodies.append(body)
        fault = self.fault
        thinking = (body.get("chat_template_kwargs") or {}).get("enable_thinking")
        if fault.only_thinking is not None and thinking != fault.only_thinking:
            fault = Fault()
        if fault.status is not None:
            error = {"message": f"scripted failure {fault.status}", "code": fault.status}
            return web.json_response({"error": error}, status=fault.status)
        raw = json.dumps({**body, **fault.body_update}).encode()
        if fault.hold_s:
            await asyncio.sleep(fault.hold_s)  # the client's read timeout fires first
        self.record.in_flight += 1
        self.record.max_in_flight = max(self.record.max_in_flight, self.record.in_flight)
        try:
            return await self._forward(request, raw, fault)
        finally:
            self.record.in_flight -= 1

    async def _forward(
        self, request: web.Request, raw: bytes, fault: Fault | None = None
    ) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        url = f"{self.upstream_root}{request.rel_url}"
        async with self._session.request(request.method, url, data=raw, headers=headers) as up:
            if "text/event-stream" not in up.headers.get("Content-Type", ""):
                return web.Response(
                    body=await up.read(), status=up.status, content_type=up.content_type
                )
            response = web.StreamResponse(
                status=up.status, headers={"Content-Type": "text/event-stream"}
            )
            await response.prepare(request)
            await _relay(request, up, response, fault or Fault())
            return response


async def _relay(request: web.Request, up, response: web.StreamResponse, fault: Fault) -> None:
    """Copy SSE events one by one, applying the fault."""
    buffer = b""
    sent = 0
    script = _AnswerScript(fault.answer_text) if fault.answer_text is not None else None
    async for data in up.content.iter_any():
        buffer += data
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            if fault.stall_after is not None and sent >= fault.stall_after:
                await asyncio.sleep(3600)  # silent until the client gives up and hangs up
            if fault.cut_after is not None and sent >= fault.cut_after:
                request.transport.close()
                return
            if fault.event_delay_s:
                await asyncio.sleep(fault.event_delay_s)
            if fault.garble_after is not None and sent == fault.garble_after:
                event = b'data: {"id": "chatcmpl-x", "choices": [{"delta": {"content": '
            if script is not None:
                event = script.rewrite(event)
            await response.write(event + b"\n\n")
            sent += 1


class _AnswerScript:
    """Hands out a scripted answer over the content events of a real stream."""

    def __init__(self, text: str, piece_chars: int = 6):
        self.pieces = [text[i : i + piece_chars] for i in range(0, len(text), piece_chars)]

    def rewrite(self, event: bytes) -> bytes:
        if not event.startswith(b"data: {"):
            return event
        chunk = json.loads(event[len(b"data: ") :])
        for choice in chunk.get("choices") or ():
            delta = choice.setdefault("delta", {})
            if choice.get("finish_reason"):
                delta["content"] = "".join(self.pieces)
                self.pieces = []
            elif delta.get("content"):
                delta["content"] = self.pieces.pop(0) if self.pieces else ""
        return b"data: " + json.dumps(chunk).encode()
