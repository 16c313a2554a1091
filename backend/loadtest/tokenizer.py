"""Token counts from the model server itself: vLLM's ``/tokenize``.

vLLM serves ``/tokenize`` at the server root, not under ``/v1``; ``root_of`` and ``api_url_of``
accept a base URL given either way (``http://host:8001`` or ``http://host:8001/v1``), so a
base URL without ``/v1`` is never mistaken for a server without ``/tokenize``. The API key is
sent when given (vLLM's key covers ``/v1`` only, but a proxy in front may cover everything).

The first failure is kept word for word in ``error`` (``HTTP 404 from http://…/tokenize:
{"detail": …}``, ``ConnectError …``), so the report says what really happened instead of
guessing; after it the counter stops asking (a server without the route would fail every call).
"""

from __future__ import annotations

from typing import Literal

import httpx

Endpoint = Literal["chat", "completions"]
ERROR_BODY_CHARS = 200


def root_of(base_url: str) -> str:
    """The server root for ``/tokenize``, ``/metrics`` and ``/health``."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def api_url_of(base_url: str) -> str:
    """The OpenAI-compatible API URL (root + ``/v1``)."""
    return root_of(base_url) + "/v1"


def describe_failure(url: str, exc: Exception) -> str:
    """One line naming the status and the server's own words, or the exception."""
    if isinstance(exc, httpx.HTTPStatusError):
        body = exc.response.text.strip().replace("\n", " ")[:ERROR_BODY_CHARS]
        return f"HTTP {exc.response.status_code} from {url}: {body}"
    return f"{type(exc).__name__} from {url}: {exc}"[: ERROR_BODY_CHARS + len(url)]


class Tokenizer:
    """Counts request tokens (chat template included) and generated text with ``/tokenize``."""

    def __init__(
        self,
        root_url: str,
        model: str | None,
        endpoint: Endpoint,
        client: httpx.AsyncClient,
        api_key: str | None = None,
    ):
        self.url = root_of(root_url) + "/tokenize"
        self._model, self._endpoint, self._client = model, endpoint, client
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.error: str | None = None

    @property
    def available(self) -> bool:
        return self.error is None

    async def _post(self, body: dict[str, object]) -> int | None:
        if self.error is not None:
            return None
        if self._model:
            body["model"] = self._model
        try:
            response = await self._client.post(self.url, json=body, headers=self._headers)
            response.raise_for_status()
            return int(response.json()["count"])
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
            self.error = describe_failure(self.url, exc)
            return None

    async def count(self, prompt: str, thinking: bool) -> int | None:
        """Tokens of the whole request: for chat the rendered template with its thinking flag."""
        body: dict[str, object]
        if self._endpoint == "chat":
            body = {
                "messages": [{"role": "user", "content": prompt}],
                "add_generation_prompt": True,
                "chat_template_kwargs": {"enable_thinking": thinking},
            }
        else:
            body = {"prompt": prompt}
        return await self._post(body)

    async def count_text(self, text: str) -> int | None:
        """Tokens in a piece of text (no template, no special tokens)."""
        return await self._post({"prompt": text, "add_special_tokens": False})
