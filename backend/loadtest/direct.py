"""The direct target: any OpenAI-compatible server, through the official ``openai`` SDK.

The SDK parses the SSE stream; this module only timestamps chunks. A chunk counts as a token
arrival when it carries text: ``choices[0].text`` (completions) or ``delta.content`` /
``delta.reasoning`` / ``delta.reasoning_content`` (chat; vLLM >= 0.11 streams reasoning in
``reasoning``). Role-only and usage-only chunks are not arrivals. Output tokens come from the
final usage chunk (``stream_options.include_usage``), else one per text chunk.

``send`` never raises: every failure becomes a ``RequestResult`` with ``error`` set to the HTTP
status (``HTTP 503``) or the exception type (``APIConnectionError``, ``APITimeoutError``...).
The SDK's retries are off so a failure is counted once, as it happened.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import openai

from backend.loadtest.metrics import RequestResult
from backend.loadtest.workload import Endpoint, RequestSpec

if TYPE_CHECKING:  # the pinned SDK's
    import httpx2 as _http
else:
    try:  # openai >= 3 runs on httpx2; older releases on httpx
        import httpx2 as _http
    except ImportError:  # pragma: no cover - depends on the installed SDK
        import httpx as _http


def make_client(
    base_url: str, api_key: str | None, max_connections: int, timeout_s: float
) -> openai.AsyncOpenAI:
    """An SDK client whose pool holds ``max_connections`` streams and never retries."""
    http_client = openai.DefaultAsyncHttpxClient(
        limits=_http.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        timeout=_http.Timeout(timeout_s, connect=min(timeout_s, 30.0)),
    )
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key or "EMPTY",
        max_retries=0,
        http_client=http_client,
    )


async def first_model_id(client: openai.AsyncOpenAI) -> str:
    """The first id that ``/v1/models`` lists."""
    page = await client.models.list()
    for model in page.data:
        return model.id
    raise RuntimeError("the server lists no models")


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    return type(exc).__name__


def chunk_text(chunk: Any, endpoint: Endpoint) -> str:
    """Text a streamed chunk carries (reasoning and answer alike), or ``""``."""
    if not chunk.choices:
        return ""
    choice = chunk.choices[0]
    if endpoint == "completions":
        return choice.text or ""
    delta = choice.delta
    if delta is None:
        return ""
    reasoning = getattr(delta, "reasoning", None) or getattr(delta, "reasoning_content", None)
    return (reasoning or "") + (delta.content or "")


class DirectTarget:
    """Sends one ``RequestSpec`` at a time to ``/v1/chat/completions`` or ``/v1/completions``.

    ``clock`` timestamps the start and each chunk (seconds; ``time.perf_counter`` unless a
    test drives time itself)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        endpoint: Endpoint,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.client, self.model, self.endpoint, self.clock = client, model, endpoint, clock

    async def _open(self, spec: RequestSpec) -> Any:
        common: dict[str, Any] = {
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": spec.max_tokens,
            "temperature": 0.0,
        }
        extra: dict[str, Any] = {"ignore_eos": True}
        if self.endpoint == "completions":
            return await self.client.completions.create(
                prompt=spec.prompt, extra_body=extra, **common
            )
        extra["chat_template_kwargs"] = {"enable_thinking": spec.thinking}
        return await self.client.chat.completions.create(
            messages=[{"role": "user", "content": spec.prompt}], extra_body=extra, **common
        )

    async def send(self, spec: RequestSpec) -> RequestResult:
        start = self.clock()
        arrivals: list[float] = []
        usage_tokens = prompt_tokens = None
        try:
            stream = await self._open(spec)
            async with stream:
                async for chunk in stream:
                    now = self.clock()
                    if chunk_text(chunk, self.endpoint):
                        arrivals.append(now)
                    if getattr(chunk, "usage", None):
                        usage_tokens = chunk.usage.completion_tokens
                        prompt_tokens = chunk.usage.prompt_tokens
        except Exception as exc:  # a RequestResult never raises
            return RequestResult(False, start, error=error_kind(exc), thinking=spec.thinking)
        return timed_result(
            start, arrivals, usage_tokens, prompt_tokens or spec.prompt_tokens or 0, spec.thinking
        )


def timed_result(
    start: float,
    arrivals: list[float],
    output_tokens: int | None,
    prompt_tokens: int,
    thinking: bool,
    socket_events: int = 0,
    tokens_from: str = "usage",
) -> RequestResult:
    """A result from token arrival times; no arrival at all is a failure, as in vLLM.

    Without ``output_tokens`` each text chunk counts as one token (``tokens_from="chunks"``)."""
    if not arrivals:
        return RequestResult(
            False, start, error="NoTokens", thinking=thinking, socket_events=socket_events
        )
    gaps = tuple(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
    return RequestResult(
        success=True,
        start_s=start,
        ttft_s=arrivals[0] - start,
        latency_s=arrivals[-1] - start,
        itl_s=gaps,
        output_tokens=output_tokens if output_tokens else len(arrivals),
        tokens_from=tokens_from if output_tokens else "chunks",
        prompt_tokens=prompt_tokens,
        chunks=len(arrivals),
        thinking=thinking,
        socket_events=socket_events,
    )


def _canned_stream(request: Any) -> Any:
    chat = request.url.path.endswith("/chat/completions")
    choice: dict[str, Any] = {"index": 0, "finish_reason": None}
    choice.update({"delta": {"content": "x"}} if chat else {"text": "x"})
    chunk: dict[str, Any] = {"id": "p", "created": 0, "model": "m", "choices": [choice]}
    chunk["object"] = "chat.completion.chunk" if chat else "text_completion"
    usage: dict[str, Any] = {
        **chunk,
        "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2},
    }
    usage["usage"]["total_tokens"] = 3
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in (chunk, chunk, usage))
    return _http.Response(
        200, headers={"content-type": "text/event-stream"}, content=body + "data: [DONE]\n\n"
    )


async def prime(endpoint: Endpoint) -> bool:
    """Run one request through the SDK against a canned in-memory stream (nothing is sent),
    so what the SDK builds lazily on a first request -- its resources, parameter transforms,
    stream and chunk types -- is not timed in a fresh client process.

    Only an optimisation: an SDK this does not fit makes it return False, never fail a run."""
    try:
        transport = _http.MockTransport(_canned_stream)
        client = openai.AsyncOpenAI(
            base_url="http://prime.invalid/v1",
            api_key="EMPTY",
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(transport=transport),
        )
    except Exception:  # an SDK without these hooks: run unprimed
        return False
    try:
        result = await DirectTarget(client, "m", endpoint).send(RequestSpec(0, "x", False, 2))
        return result.success
    finally:
        await client.close()
