"""What the load test sends and when: unique prompts of a target length, and arrival times.

- Every prompt starts with a unique, seeded random word sequence, so no two requests share a
  prefix-cache block (identical prompts would be served from vLLM's prefix cache and flatter
  the numbers).
- With the server's ``/tokenize`` each prompt is sized until the tokenized request -- chat
  template and thinking flag included for chat -- is exactly ``input_len`` tokens, on any
  tokenizer (one token per word, several per word, one per character: see ``fit_prompt``).
  Without it, one word is taken as one token and the plan is marked ``exact=False`` with the
  real failure in ``note``; a plan that could not reach the length says so too.
- Open-loop arrivals are a Poisson process (gamma with shape 1) or, with ``burstiness`` != 1,
  gamma-distributed gaps with shape=burstiness and scale=1/(rate*burstiness), rescaled so the
  last arrival is at ``n / rate`` -- exactly as vLLM's benchmark does.
"""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

from backend.loadtest.tokenizer import Endpoint, Tokenizer

__all__ = ["Endpoint", "RequestSpec", "Tokenizer", "WorkloadPlan", "build_plan"]

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
    note: str = ""  # why not, in words: the real /tokenize failure or the counts reached


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


PROPORTIONAL_STEPS = 6
PAD_STEPS = 8


async def fit_prompt(
    prefix: list[str],
    input_len: int,
    thinking: bool,
    tokenizer: Tokenizer,
    rng: random.Random,
    start_words: int | None = None,
) -> tuple[str, int | None]:
    """The unique ``prefix`` plus filler, sized to ``input_len`` request tokens if possible.

    Works on any tokenizer: the measured tokens per word drives a few proportional steps, a
    trim word by word, then a pad of random letters (one token each on character vocabularies,
    at most one per letter on BPE ones), each checked by the server, so the request never
    exceeds ``input_len``. ``start_words`` (the size another prompt ended at) saves most of the
    search. Returns the count reached (``None`` without ``/tokenize``: one word per token).
    """
    size = start_words or input_len
    words = list(prefix) + [rng.choice(WORDS) for _ in range(max(size - len(prefix), 0))]
    count = await tokenizer.count(" ".join(words), thinking)
    for _ in range(PROPORTIONAL_STEPS):
        if count is None or count == input_len or count <= 0:
            break
        size = max(len(prefix), round(len(words) * input_len / count))
        if size == len(words):
            break
        words = _resize(words, size, rng)
        count = await tokenizer.count(" ".join(words), thinking)
    while count is not None and count > input_len and len(words) > len(prefix):
        words = words[:-1]
        count = await tokenizer.count(" ".join(words), thinking)
    text, letters = " ".join(words), None
    for _ in range(PAD_STEPS):
        if count is None or count >= input_len:
            break
        letters = input_len - count - 1 if letters is None else letters
        piece = " " + "".join(rng.choice(string.ascii_lowercase) for _ in range(letters))
        longer = await tokenizer.count(text + piece, thinking)
        if longer is None:
            break
        if longer > input_len:  # BPE merged fewer letters than expected: take a smaller step
            if letters == 0:
                break
            letters //= 2
            continue
        text, count, letters = text + piece, longer, None
    return text, count


def _resize(words: list[str], size: int, rng: random.Random) -> list[str]:
    if size <= len(words):
        return words[:size]
    return words + [rng.choice(WORDS) for _ in range(size - len(words))]


def plan_note(specs: Sequence[RequestSpec], input_len: int, tokenizer: Tokenizer) -> str:
    """Why the plan is not exact, in words (``""`` when every request is ``input_len`` tokens)."""
    if tokenizer.error is not None:
        return f"input length approximate (one word per token): /tokenize failed: {tokenizer.error}"
    counts = [s.prompt_tokens for s in specs if s.prompt_tokens is not None]
    if not counts or all(c == input_len for c in counts):
        return ""
    return (
        f"input length not exact: requests are {min(counts)}-{max(counts)} tokens by the "
        f"server's /tokenize, asked for {input_len}"
    )


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
    """``count`` unique requests; tokenizer calls run ``parallel`` at a time, before any timing.

    The first prompt is fitted alone and its size starts every other search."""
    rng = random.Random(seed)
    prefixes = unique_prefixes(count, rng)
    flags = thinking_flags(count, think_ratio, rng)
    seeds = [rng.randrange(2**32) for _ in range(count)]
    gate = asyncio.Semaphore(parallel)
    start_words: int | None = None

    async def one(i: int) -> RequestSpec:
        async with gate:
            text, tokens = await fit_prompt(
                prefixes[i], input_len, flags[i], tokenizer, random.Random(seeds[i]), start_words
            )
        return RequestSpec(i, text, flags[i], output_len, tokens)

    specs = [await one(0)] if count else []
    if specs and specs[0].prompt_tokens is not None:
        start_words = len(specs[0].prompt.split())
    specs += await asyncio.gather(*(one(i) for i in range(1, count)))
    note = plan_note(specs, input_len, tokenizer)
    return WorkloadPlan(tuple(specs), exact=not note and bool(specs), note=note)
