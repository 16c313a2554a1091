"""Unique prompts of an exact token length, for any tokenizer the server has.

The load tester's ``fit_prompt`` assumes one token per word (true of Qwen's real vocabulary)
and grows or trims by the token difference in words. The GPU test model (Qwen3-4B's
architecture with a synthetic tokenizer) has one token per *character*: a word is about six
tokens, the first trim overshoots below the unique prefix, and the prompt collapses to the
prefix (~70 tokens instead of 512), flagged only by ``input_len_exact: false``.

``fit_prompt`` here keeps the load tester's workload rules (``unique_prefixes``,
``thinking_flags``, its word list, ``/tokenize`` with the chat template and thinking flag) and
searches on the measured tokens per word instead: a few proportional steps, a trim, then a
pad of single characters, each checked by the server. It reports the count it reached.
"""

from __future__ import annotations

import asyncio
import random
import string

from backend.loadtest.workload import (
    WORDS,
    RequestSpec,
    Tokenizer,
    WorkloadPlan,
    thinking_flags,
    unique_prefixes,
)

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

    ``start_words`` (the size another prompt ended at) saves most of the search."""
    size = start_words or input_len
    words = list(prefix) + [rng.choice(WORDS) for _ in range(max(size - len(prefix), 0))]
    count = await tokenizer.count(" ".join(words), thinking)
    for _ in range(PROPORTIONAL_STEPS):  # tokens per word, measured, drives the next size
        if count is None or count <= input_len:
            break
        size = max(len(prefix), round(len(words) * input_len / count))
        if size == len(words):
            break
        words = _resize(words, size, rng)
        count = await tokenizer.count(" ".join(words), thinking)
    while count is not None and count > input_len and len(words) > len(prefix):
        words = words[:-1]
        count = await tokenizer.count(" ".join(words), thinking)
    text = " ".join(words)
    for _ in range(PAD_STEPS):  # single letters: one token each on character vocabularies
        if count is None or count >= input_len:
            break
        gap = input_len - count
        piece = " " + "".join(rng.choice(string.ascii_lowercase) for _ in range(gap - 1))
        longer = await tokenizer.count(text + piece, thinking)
        if longer is None or longer > input_len:
            break
        text, count = text + piece, longer
    return text, count


def _resize(words: list[str], size: int, rng: random.Random) -> list[str]:
    if size <= len(words):
        return words[:size]
    return words + [rng.choice(WORDS) for _ in range(size - len(words))]


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
    """Same contract as ``backend.loadtest.workload.build_plan``, with the fit above."""
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

    specs = [await one(0)] if count else []  # the first fit sizes the rest
    start_words = len(specs[0].prompt.split()) + 2 if specs else None
    specs += await asyncio.gather(*(one(i) for i in range(1, count)))
    return WorkloadPlan(tuple(specs), all(s.prompt_tokens == input_len for s in specs))
