"""Keep a conversation inside the model's context window.

Tokens are counted by the server itself (vLLM's /tokenize renders the chat template), but
only when a cheap upper bound says the conversation might not fit: a byte-level BPE
tokenizer never makes more tokens than UTF-8 bytes. The oldest exchanges go first; a
single message that cannot fit is refused with the numbers.
"""

from __future__ import annotations

import httpx
import openai

from backend.chat.history import History
from backend.chat.settings import SamplingSettings
from backend.server.client import ChatClient, ServerError, server_error

TEMPLATE_TOKENS_PER_MESSAGE = 8
TEMPLATE_TOKENS_FIXED = 16


class ContextTooSmall(Exception):
    """The newest message alone does not fit; ``str()`` says by how much."""


def answer_reserve(settings: SamplingSettings, max_model_len: int) -> int:
    """Tokens kept free for the answer: max_tokens when set, else a slice of the context."""
    if settings.max_tokens:
        return min(settings.max_tokens, max_model_len // 2)
    return min(1024, max_model_len // 8)


def token_upper_bound(messages: list[dict[str, str]]) -> int:
    per_message = sum(len(m["content"].encode()) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)
    return per_message + TEMPLATE_TOKENS_FIXED


async def fit_history(
    client: ChatClient, history: History, settings: SamplingSettings, *, thinking: bool
) -> int:
    """Drop the oldest exchanges until the prompt fits; return how many were dropped."""
    try:
        info = await client.model_info()
    except (openai.APIError, httpx.HTTPError) as exc:
        raise server_error(exc, client.config) from exc
    if info.max_model_len is None:
        return 0  # not a vLLM server: nothing to measure against
    reserve = answer_reserve(settings, info.max_model_len)
    trial = History(list(history.turns))
    if token_upper_bound(trial.messages(settings.system_prompt)) + reserve <= info.max_model_len:
        return 0
    dropped = 0
    while True:
        count = await _count(client, trial, settings, thinking)
        if count is None or count + reserve <= info.max_model_len:
            break
        if not trial.drop_oldest_exchange():
            raise ContextTooSmall(
                f"Your message is {count:,} tokens with the system prompt, but the model's "
                f"context holds {info.max_model_len:,} tokens and {reserve:,} are kept for the "
                "answer. Shorten the message (or the system prompt) and send it again."
            )
        dropped += 1
    history.turns[:] = trial.turns
    return dropped


async def _count(
    client: ChatClient, history: History, settings: SamplingSettings, thinking: bool
) -> int | None:
    try:
        count, _ = await client.count_tokens(
            history.messages(settings.system_prompt), thinking=thinking
        )
    except httpx.HTTPStatusError:
        return None  # a server without /tokenize: let it decide
    except (openai.APIError, httpx.HTTPError) as exc:
        raise server_error(exc, client.config) from exc
    return count


__all__ = ["ContextTooSmall", "ServerError", "answer_reserve", "fit_history", "token_upper_bound"]
