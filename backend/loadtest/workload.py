"""What the load test sends and when: unique prompts of a target length, and arrival times.

- Every prompt starts with a unique, seeded random word sequence, so no two requests share a
  prefix-cache block (identical prompts would be served from vLLM's prefix cache and flatter
  the numbers).
- With the server's ``/tokenize`` (vLLM serves it at the root, not under ``/v1``), each prompt
  is grown or trimmed word by word until the tokenized request -- chat template included for
  chat -- is exactly ``input_len`` tokens. Without it, one word is taken as one token and the
  plan is marked ``exact=False``.
- Open-loop arrivals are a Poisson process (gamma with shape 1) or, with ``burstiness`` != 1,
  gamma-distributed gaps with shape=burstiness and scale=1/(rate*burstiness), rescaled so the
  last arrival is at ``n / rate`` -- exactly as vLLM's benchmark does.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Literal

import httpx

Endpoint = Literal["chat", "completions"]

# Short common words: each is a single token after a space in Qwen's (and most BPE) vocabularies.
WORDS = tuple(
    """time year people way day man thing woman life child world school state family student
    group country problem hand part place case week company system program question work
    government number night point home water room mother area money story fact month lot right
    study book eye job word business issue side kind head house service friend father power hour
    game line end member law car city name team minute idea kid body back parent face others
    level office door health person art war history party result change morning reason research
    girl guy moment air teacher force education foot boy age policy music market sense nation
    plan college interest death course someone experience food land table paper road color
    light river stone tree bird fish horse field green blue red small large early young open
    late hard best short clear free full sure cold warm dark bright quiet quick slow""".split()
)


@dataclass(frozen=True)
class RequestSpec:
    """One request to send. ``prompt`` is the user message for chat, the raw prompt otherwise."""

    index: int
    prompt: str
    thinking: bool
    max_tokens: int
    prompt_tokens: int | None = None  # as counted by /tokenize, None if unknown


@dataclass(frozen=True)
class WorkloadPlan:
    specs: tuple[RequestSpec, ...]
    exact: bool  # every prompt tokenized to exactly input_len


def unique_prefixes(count: int, rng: random.Random, words: int = 8) -> list[list[str]]:
    """``count`` distinct random word sequences (re-drawn on the rare collision)."""
    seen: set[tuple[str, ...]] = set()
    out: list[list[str]] = []
    while len(out) < count:
        draw = tuple(rng.choice(WORDS) for _ in range(words))
        if draw not in seen:
            seen.add(draw)
            out.append(list(draw))
    return out


def thinking_flags(count: int, think_ratio: float, rng: random.Random) -> list[bool]:
    """Exactly ``round(count * think_ratio)`` requests think, in seeded random positions."""
    thinking = round(count * think_ratio)
    flags = [True] * thinking + [False] * (count - thinking)
    rng.shuffle(flags)
    return flags


def arrival_offsets_s(
    count: int, request_rate: float, burstiness: float, rng: random.Random
) -> list[float]:
    """Send time of each request, seconds from the level start (first gap included)."""
    if count <= 0:
        return []
    if request_rate == float("inf"):
        return [0.0] * count
    theta = 1.0 / (request_rate * burstiness)
    offsets, t = [], 0.0
    for _ in range(count):
        t += rng.gammavariate(burstiness, theta)
        offsets.append(t)
    scale = (count / request_rate) / offsets[-1]
    return [o * scale for o in offsets]


class Tokenizer:
    """Counts request tokens with vLLM's ``/tokenize``; ``available`` is False if it is absent."""

    def __init__(
        self, root_url: str, model: str | None, endpoint: Endpoint, client: httpx.AsyncClient
    ):
        self._url = root_url.rstrip("/") + "/tokenize"
        self._model, self._endpoint, self._client = model, endpoint, client
        self.available = True

    async def count(self, prompt: str, thinking: bool) -> int | None:
        if not self.available:
            return None
        body: dict[str, object] = {"model": self._model}
        if self._endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
            body["add_generation_prompt"] = True
            body["chat_template_kwargs"] = {"enable_thinking": thinking}
        else:
            body["prompt"] = prompt
        try:
            response = await self._client.post(self._url, json=body)
            response.raise_for_status()
            return int(response.json()["count"])
        except (httpx.HTTPError, KeyError, ValueError):
            self.available = False
            return None

    async def count_text(self, text: str) -> int | None:
        """Tokens in a piece of generated text (no template, no special tokens)."""
        if not self.available:
            return None
        body = {"model": self._model, "prompt": text, "add_special_tokens": False}
        try:
            response = await self._client.post(self._url, json=body)
            response.raise_for_status()
            return int(response.json()["count"])
        except (httpx.HTTPError, KeyError, ValueError):
            return None


async def fit_prompt(
    words: list[str], input_len: int, thinking: bool, tokenizer: Tokenizer, rng: random.Random
) -> tuple[str, int | None]:
    """Grow or trim the filler after the unique prefix until the request is ``input_len`` tokens."""
    prefix_len = min(len(words), max(input_len, 1))
    words = words[:prefix_len] + [rng.choice(WORDS) for _ in range(max(input_len - prefix_len, 0))]
    for _ in range(8):
        count = await tokenizer.count(" ".join(words), thinking)
        if count is None or count == input_len:
            return " ".join(words), count
        diff = input_len - count
        if diff > 0:
            words += [rng.choice(WORDS) for _ in range(diff)]
        elif len(words) + diff >= prefix_len:
            words = words[: len(words) + diff]
        else:  # template alone is longer than wanted: keep the unique prefix, report the count
            words = words[:prefix_len]
            return " ".join(words), await tokenizer.count(" ".join(words), thinking)
    return " ".join(words), await tokenizer.count(" ".join(words), thinking)


async def build_plan(
    count: int,
    *,
    input_len: int,
    output_len: int,
    think_ratio: float,
    seed: int,
    tokenizer: Tokenizer,
    parallel: int = 8,
) -> WorkloadPlan:
    """``count`` unique requests; tokenizer calls run ``parallel`` at a time, before any timing."""
    rng = random.Random(seed)
    prefixes = unique_prefixes(count, rng)
    flags = thinking_flags(count, think_ratio, rng)
    seeds = [rng.randrange(2**32) for _ in range(count)]
    gate = asyncio.Semaphore(parallel)

    async def one(i: int) -> RequestSpec:
        async with gate:
            text, tokens = await fit_prompt(
                prefixes[i], input_len, flags[i], tokenizer, random.Random(seeds[i])
            )
        return RequestSpec(i, text, flags[i], output_len, tokens)

    specs = await asyncio.gather(*(one(i) for i in range(count)))
    exact = all(s.prompt_tokens == input_len for s in specs)
    return WorkloadPlan(tuple(specs), exact)
