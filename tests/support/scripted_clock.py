"""Exact timing for the direct target's unit tests: a vLLM-shaped stream on a scripted clock.

`scripted_client` is an OpenAI SDK client whose server runs in-process (the HTTP library's
``MockTransport``): it streams what `FakeOpenAIServer` streams (a role chunk at once for
chat, the first token ``first_token_s`` after the request, one every ``token_interval_s``,
then the usage chunk and ``[DONE]``), but instead of sleeping it moves `ScriptedClock` to
each chunk's time just before handing the chunk over. The SDK reads one chunk before it
asks for the next, so a target that reads the clock when a chunk arrives reads exactly
that chunk's scheduled time, however busy the machine is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai

from tests.support.fake_openai_server import Script, chat_chunk

try:  # the HTTP library the pinned SDK runs on (see backend/loadtest/direct.py)
    import httpx2 as http_lib
except ImportError:  # pragma: no cover - depends on the installed SDK
    import httpx as http_lib

PROMPT_TOKENS = 7


class ScriptedClock:
    """Seconds that move only when the scripted server sends something."""

    def __init__(self, start_s: float = 1000.0):
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s


def _event(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


async def _answer(
    clock: ScriptedClock, body: dict[str, Any], script: Script, usage_after_s: float
) -> AsyncIterator[bytes]:
    arrived = clock.now_s
    chat = "messages" in body
    tokens = int(body.get("max_tokens") or 16)
    thinking = (body.get("chat_template_kwargs") or {}).get("enable_thinking", False)
    if chat:
        yield _event(chat_chunk({"role": "assistant", "content": ""}))
    for i in range(tokens):
        clock.now_s = arrived + script.first_token_s + i * script.token_interval_s
        if not chat:
            yield _event({"object": "text_completion", "choices": [{"index": 0, "text": f" t{i}"}]})
        else:
            yield _event(
                chat_chunk({"reasoning" if thinking and i < tokens // 2 else "content": f" t{i}"})
            )
    clock.now_s += usage_after_s
    usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": tokens}
    usage["total_tokens"] = tokens + PROMPT_TOKENS
    yield _event({"object": "chunk", "choices": [], "usage": usage})
    yield _event("[DONE]")


def scripted_client(
    clock: ScriptedClock, script: Script, usage_after_s: float = 0.0
) -> openai.AsyncOpenAI:
    async def handle(request: Any) -> Any:
        body = json.loads(await request.aread())
        stream = _answer(clock, body, script, usage_after_s)
        return http_lib.Response(200, headers={"content-type": "text/event-stream"}, content=stream)

    transport = http_lib.MockTransport(handle)
    return openai.AsyncOpenAI(
        base_url="http://scripted.invalid/v1",
        api_key="EMPTY",
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(transport=transport),
    )
