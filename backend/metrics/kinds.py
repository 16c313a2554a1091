"""Why an answer failed, as one of a few fixed words (a bounded Prometheus label value).

``error_kind(exc)`` looks at the exception the chat caught and at its cause: the client
raises ``ServerError(...) from <the SDK's or httpx's exception>``, so the cause says what
really happened. Anything unrecognised is ``internal``.
"""

from __future__ import annotations

import httpx
import openai

from backend.server.client import ServerError

ERROR_KINDS = (
    "unreachable",  # nothing reached the server (refused, connect timeout, still loading)
    "timeout",  # the server stopped sending for STREAM_TIMEOUT_S
    "disconnected",  # the connection broke off mid-answer
    "rejected",  # the server refused the request (bad request, unknown model, bad key)
    "server",  # the server failed (HTTP 5xx or an error in the stream)
    "malformed",  # the stream could not be read
    "context_full",  # the message does not fit the model's context
    "internal",  # a bug in the chat
)


def error_kind(exc: BaseException) -> str:
    """One of `ERROR_KINDS` for an exception caught while answering."""
    if isinstance(exc, ServerError):
        if exc.unreachable:
            return "unreachable"
        cause = exc.__cause__
        return _kind_of(cause) if cause is not None else "rejected"
    return "internal"


def _kind_of(exc: BaseException) -> str:
    cause = exc.__cause__
    if isinstance(exc, httpx.ConnectTimeout) or isinstance(cause, httpx.ConnectTimeout):
        return "unreachable"
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException)):
        return "timeout"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)) or isinstance(
        cause, httpx.RemoteProtocolError
    ):
        return "disconnected"
    if isinstance(exc, openai.APIConnectionError):
        return "unreachable"
    if isinstance(exc, openai.APIStatusError):
        return "server" if exc.status_code >= 500 else "rejected"
    if isinstance(exc, openai.APIError):
        return "server"
    if isinstance(exc, (ValueError, TypeError, AttributeError)):
        return "malformed"
    return "internal"
