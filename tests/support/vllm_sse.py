"""An HTTP-level fake of vLLM's streaming chat API for unit tests (httpx.MockTransport).

The real OpenAI SDK parses what it sends, so tests cover SSE framing, usage chunks and
error bodies as vLLM produces them.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

MODEL = "fake-qwen3"


def chunk(*, reasoning=None, content=None, finish=None, legacy=False) -> dict:
    delta = {}
    if reasoning is not None:
        delta["reasoning_content" if legacy else "reasoning"] = reasoning
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(prompt=10, completion=5) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def sse(events: list[dict | str]) -> bytes:
    out = b""
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        out += f"data: {data}\n\n".encode()
    return out + b"data: [DONE]\n\n"


class ByteStream(httpx.AsyncByteStream):
    """Yields the body in the given pieces; records whether the client closed it."""

    def __init__(self, pieces: list[bytes]):
        self.pieces = pieces
        self.closed = False

    async def __aiter__(self):
        for piece in self.pieces:
            yield piece

    async def aclose(self) -> None:
        self.closed = True


class FakeVllm:
    """Records requests; ``reply`` decides each chat completion's response."""

    def __init__(self, reply: Callable[[dict], httpx.Response] | None = None, max_model_len=4096):
        self.requests: list[dict] = []
        self.reply = reply or (lambda body: self.stream([chunk(content="hi", finish="stop")]))
        self.max_model_len = max_model_len
        self.streams: list[ByteStream] = []

    def stream(self, events, split_every: int | None = None) -> httpx.Response:
        body = sse(events)
        if split_every:
            pieces = [body[i : i + split_every] for i in range(0, len(body), split_every)]
        else:
            pieces = [body]
        stream = ByteStream(pieces)
        self.streams.append(stream)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/models"):
            card = {
                "id": MODEL,
                "object": "model",
                "root": "/models/x",
                "owned_by": "vllm",
                "max_model_len": self.max_model_len,
            }
            return httpx.Response(200, json={"object": "list", "data": [card]})
        if path.endswith("/tokenize"):
            body = json.loads(request.content)
            text = "".join(m["content"] for m in body["messages"])
            return httpx.Response(
                200,
                json={
                    "count": len(text.encode()) + 4,
                    "max_model_len": self.max_model_len,
                    "tokens": [],
                },
            )
        if path.endswith("/health"):
            return httpx.Response(200)
        body = json.loads(request.content)
        self.requests.append(body)
        return self.reply(body)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def error_response(status: int, message: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "BadRequestError", "code": status}}
    return httpx.Response(status, json=body)
