"""A scripted OpenAI-compatible server speaking vLLM's streaming dialect, with known timing.

Per request: a role-only chunk at once (chat), the first token ``first_token_s`` after the
request arrived, then one token every ``token_interval_s`` (scheduled against the arrival time,
so delays do not accumulate), then a usage chunk and ``[DONE]``. Chat requests with
``enable_thinking`` stream the first half of their tokens in ``delta.reasoning``.

Also serves ``/v1/models``, ``/tokenize`` (one token per word plus ``CHAT_TEMPLATE_TOKENS``
for chat) and ``/metrics`` (vLLM's names, with the live in-flight count as running).
It records what the client did: prompts, arrival times and the peak of in-flight requests.
`fake_model_server()` runs one on its own event loop in a thread, for sync tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from backend.engine.process import free_port

CHAT_TEMPLATE_TOKENS = 5
MODEL = "fake-qwen3"
METRICS_SAMPLE = Path(__file__).with_name("vllm_metrics_sample.txt")


@dataclass
class Script:
    first_token_s: float = 0.100
    token_interval_s: float = 0.020
    fail_every: int = 0  # every n-th request (1-based) answers fail_status
    fail_status: int = 503
    cut_every: int = 0  # every n-th request drops the connection after two tokens


@dataclass
class Record:
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    prompts: list[str] = field(default_factory=list)
    arrivals_s: list[float] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)


class FakeOpenAIServer:
    def __init__(self, script: Script | None = None):
        self.script = script or Script()
        self.record = Record()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> web.Application:
        """The server's routes: /v1/models, /tokenize, /metrics and the two completions."""
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/tokenize", self._tokenize)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/v1/chat/completions", self._stream)
        app.router.add_post("/v1/completions", self._stream)
        return app

    async def __aenter__(self) -> FakeOpenAIServer:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def _tokenize(self, request: web.Request) -> web.Response:
        body = await request.json()
        if "messages" in body:
            count = len(body["messages"][0]["content"].split()) + CHAT_TEMPLATE_TOKENS
        else:
            count = len(body["prompt"].split())
        return web.json_response({"count": count, "max_model_len": 4096, "tokens": []})

    async def _metrics(self, request: web.Request) -> web.Response:
        text = METRICS_SAMPLE.read_text().replace(
            'vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-0.6B"} 3.0',
            f'vllm:num_requests_running{{engine="0",model_name="Qwen/Qwen3-0.6B"}} '
            f"{float(self.record.in_flight)}",
        )
        return web.Response(text=text, content_type="text/plain")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        body = await request.json()
        rec = self.record
        rec.requests += 1
        nth = rec.requests
        rec.bodies.append(body)
        rec.arrivals_s.append(arrived)
        chat = "messages" in body
        rec.prompts.append(body["messages"][0]["content"] if chat else body["prompt"])
        if self.script.fail_every and nth % self.script.fail_every == 0:
            return web.json_response({"error": "scripted"}, status=self.script.fail_status)
        rec.in_flight += 1
        rec.max_in_flight = max(rec.max_in_flight, rec.in_flight)
        try:
            return await self.answer(request, body, arrived, chat, nth)
        finally:
            rec.in_flight -= 1

    async def answer(
        self, request: web.Request, body: dict[str, Any], arrived: float, chat: bool, nth: int
    ) -> web.StreamResponse:
        """Stream one recorded request's answer (subclasses script other shapes)."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        tokens = int(body.get("max_tokens") or 16)
        thinking = (body.get("chat_template_kwargs") or {}).get("enable_thinking", False)
        if chat:
            await send_event(response, chat_chunk({"role": "assistant", "content": ""}))
        for i in range(tokens):
            await sleep_until(
                arrived + self.script.first_token_s + i * self.script.token_interval_s
            )
            if self.script.cut_every and nth % self.script.cut_every == 0 and i == 2:
                request.transport.close()  # the server dies mid-answer
                return response
            text = f" t{i}"
            if not chat:
                chunk = {"object": "text_completion", "choices": [{"index": 0, "text": text}]}
            elif thinking and i < tokens // 2:
                chunk = chat_chunk({"reasoning": text})
            else:
                chunk = chat_chunk({"content": text})
            await send_event(response, chunk)
        usage = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": tokens + 7}
        await send_event(response, {"object": "chunk", "choices": [], "usage": usage})
        await response.write(b"data: [DONE]\n\n")
        return response


def chat_chunk(delta: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


async def send_event(response: web.StreamResponse, payload: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(payload)}\n\n".encode())


async def sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)  # the scripted token schedule


@contextmanager
def fake_model_server():
    """The scripted server on its own event loop, in a thread (Playwright's API is sync)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeOpenAIServer(Script(first_token_s=0.05, token_interval_s=0.02))
    asyncio.run_coroutine_threadsafe(server.__aenter__(), loop).result(timeout=10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
