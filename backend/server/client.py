"""Async client for vLLM's OpenAI-compatible API.

`ChatClient.stream()` is an async context manager around one streamed chat completion:
leaving it (normally, on error, or by task cancellation when the user presses Stop)
closes the HTTP response, and vLLM aborts the request. Timeouts and retries are the
OpenAI SDK's own: ``connect_timeout_s`` to connect, ``stream_timeout_s`` between chunks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import openai
from openai import AsyncOpenAI

from backend.config import Config
from backend.server.pace import StreamPace
from backend.server.reasoning import DeltaRouter, Segment


class RequestParams(Protocol):
    """What a request needs from the caller's sampling settings (the chat's panel model)."""

    def request_params(self, *, thinking: bool) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None = None


@dataclass(frozen=True)
class Finish:
    reason: str | None


StreamEvent = Segment | Usage | Finish


@dataclass(frozen=True)
class ModelInfo:
    id: str
    root: str | None = None
    max_model_len: int | None = None


class ServerError(Exception):
    """A failure described in plain words for the chat (``str(exc)`` is shown).

    ``unreachable`` means nothing was sent: the request may be retried once the server
    is up. Every other failure happened at or after the server took the request.
    """

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def server_error(exc: BaseException, config: Config) -> ServerError:
    # A connect timeout, like a refused connection, means nothing reached the server.
    unreachable = isinstance(exc.__cause__, httpx.ConnectTimeout) or (
        isinstance(exc, openai.APIConnectionError)
        and not isinstance(exc, openai.APITimeoutError)
        and not isinstance(exc.__cause__, httpx.RemoteProtocolError)
    )
    return ServerError(describe_error(exc, config), unreachable=unreachable)


def _field(obj: Any, name: str) -> Any:
    value = getattr(obj, name, None)
    if value is None and getattr(obj, "model_extra", None):
        value = obj.model_extra.get(name)
    return value


class ChatClient:
    def __init__(self, config: Config, *, http_client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        timeout = httpx.Timeout(config.stream_timeout_s, connect=config.connect_timeout_s)
        # One pooled client for every session; the SDK's own errors and ours are httpx's.
        self._http = http_client or httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )
        # The SDK annotates its own httpx fork's types; httpx's client and timeout serve it.
        self._openai = AsyncOpenAI(
            base_url=config.vllm_base_url,
            api_key=config.api_key,
            timeout=timeout,  # type: ignore[arg-type]
            max_retries=config.max_retries,
            http_client=self._http,  # type: ignore[arg-type]
        )
        self._model: ModelInfo | None = None
        self.pace = StreamPace(config.stream_flush_ms / 1000, config.stream_interval_tokens)

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    async def model_info(self) -> ModelInfo:
        """SERVED_MODEL_NAME's card (or the first model listed), cached after one call."""
        if self._model is None:
            page = await self._openai.models.list()
            wanted = self.config.served_model_name
            cards = [m for m in page.data if not wanted or m.id == wanted]
            if not cards:
                listed = ", ".join(m.id for m in page.data) or "none"
                raise ServerError(
                    f"The model server does not serve {wanted!r} (it serves: {listed})."
                )
            card = cards[0]
            self._model = ModelInfo(card.id, _field(card, "root"), _field(card, "max_model_len"))
        return self._model

    async def model_name(self) -> str:
        return (await self.model_info()).id

    async def _model_name_or_raise(self) -> str:
        try:
            return await self.model_name()
        except (openai.APIError, httpx.HTTPError) as exc:
            raise server_error(exc, self.config) from exc

    async def healthy(self) -> bool:
        try:
            response = await self.http.get(f"{self.config.server_root}/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def count_tokens(
        self, messages: list[dict[str, str]], *, thinking: bool
    ) -> tuple[int, int]:
        """(prompt tokens, server's max_model_len) from vLLM's /tokenize."""
        body = {
            "model": await self.model_name(),
            "messages": messages,
            "add_generation_prompt": True,
            "chat_template_kwargs": {"enable_thinking": thinking},
        }
        response = await self.http.post(
            f"{self.config.server_root}/tokenize", json=body, headers=self._auth()
        )
        response.raise_for_status()
        data = response.json()
        return int(data["count"]), int(data["max_model_len"])

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.api_key}"}

    @asynccontextmanager
    async def stream(
        self,
        messages: list[dict[str, str]],
        settings: RequestParams,
        *,
        thinking: bool,
        extra_body: dict[str, Any] | None = None,
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        params = settings.request_params(thinking=thinking)
        body = {
            "model": await self._model_name_or_raise(),
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            **{k: v for k, v in params.items() if k != "extra_body"},
            **params["extra_body"],
            **(extra_body or {}),
        }
        if (tokens := self.pace.tokens_per_chunk) > 1:  # fewer, fuller chunks (pace.py)
            body["stream_interval"] = tokens
        try:
            # The SDK's own request, retry and SSE handling, but chunks stay plain dicts:
            # building a pydantic object per streamed token was the relay's main CPU cost.
            response = await self._openai.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        except openai.APIError as exc:
            raise server_error(exc, self.config) from exc
        try:
            yield _events(response, DeltaRouter(reasoning_first=thinking), self.config)
        finally:
            await response.close()


async def _events(response: Any, router: DeltaRouter, config: Config) -> AsyncIterator[StreamEvent]:
    try:
        async for chunk in response:
            if not isinstance(chunk, dict):
                raise ValueError("a streamed chunk is not a JSON object")
            if chunk.get("usage"):
                yield _usage(chunk["usage"])
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                for segment in router.route(
                    reasoning=delta.get("reasoning") or delta.get("reasoning_content"),
                    content=delta.get("content"),
                ):
                    yield segment
                if choice.get("finish_reason"):
                    for segment in router.flush():
                        yield segment
                    yield Finish(choice["finish_reason"])
    except (openai.APIError, httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
        raise ServerError(describe_error(exc, config)) from exc  # mid-stream: never retried


def _usage(usage: dict[str, Any]) -> Usage:
    details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens"),
    )


def describe_error(exc: BaseException, config: Config) -> str:
    """One or two plain sentences for the chat: what happened and what to check."""
    url = config.vllm_base_url
    if isinstance(exc, httpx.ConnectTimeout) or isinstance(exc.__cause__, httpx.ConnectTimeout):
        return (
            f"The model server at {url} did not accept a connection within "
            f"{config.connect_timeout_s:g} s. Check that vLLM is running and not overloaded "
            "(CONNECT_TIMEOUT_S sets this limit)."
        )
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return (
            f"The model server stopped sending for {config.stream_timeout_s:g} s, so the answer "
            "was ended. The server may be overloaded; try again, or raise STREAM_TIMEOUT_S."
        )
    if isinstance(exc, openai.APIConnectionError) and not isinstance(
        exc.__cause__, httpx.RemoteProtocolError
    ):
        return (
            f"Cannot reach the model server at {url}. Check that vLLM is running "
            "(./start.sh starts it) and that VLLM_BASE_URL points at it."
        )
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, openai.APIConnectionError)):
        return (
            "The connection to the model server broke off mid-answer, so the answer is "
            "incomplete (the server may have stopped or restarted)."
        )
    if isinstance(exc, openai.AuthenticationError):
        return "The model server refused the API key. Check VLLM_API_KEY."
    if isinstance(exc, openai.NotFoundError):
        return (
            f"The model server does not serve that model ({_message(exc)}). "
            "Check SERVED_MODEL_NAME."
        )
    if isinstance(exc, openai.BadRequestError):
        return f"The model server rejected the request: {_message(exc)}"
    if isinstance(exc, openai.APIStatusError):
        return (
            f"The model server failed (HTTP {exc.status_code}): {_message(exc)}. Please try again."
        )
    if isinstance(exc, openai.APIError):
        return f"The model server reported an error: {_message(exc)}"
    if isinstance(exc, ValueError):
        return "The model server sent a malformed response; the answer was ended."
    return f"Unexpected error talking to the model server ({type(exc).__name__})."


def _message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    if isinstance(body, str):
        try:
            return _message_from_json(body)
        except ValueError:
            return body[:300]
    return exc.message


def _message_from_json(text: str) -> str:
    data = json.loads(text)
    return str(data.get("error", {}).get("message") or data.get("message") or text)
