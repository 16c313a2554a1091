"""Waves of streamed chat requests straight to vLLM, greedy or sampled, to time a stalled step.

Each ``--wave MODE:N`` sends N requests (each started ``--stagger-ms`` after the previous, as
chat users' messages arrive, so the server's batch passes through every size up to N) and
waits for all of them. ``greedy`` is temperature 0 (what the load tester's direct target
sends); ``sampled`` is the chat's own defaults for its mode (temperature 0.6 / 0.7, top_p 0.95
/ 0.8, top_k 20: ``backend.chat.settings``), which makes vLLM run its top-k/top-p sampler. Per
wave it prints one JSON line: wall time, E2E p50 / max, the longest gap between two text
chunks of each request, and how many requests had a gap over ``--stall-ms``. A step that
blocks the whole engine shows as one long gap in every request in flight at that moment.

    python -m bench.sampler_stall --base-url http://127.0.0.1:8001/v1 \
        --wave greedy:16 --wave sampled:4 --wave sampled:16 --wave sampled:16

Only the standard library and the ``openai`` SDK are imported, so vLLM's own environment runs
it. ``--cache-dir`` counts the files under a compiler cache (Triton's ``~/.triton/cache``)
before and after each wave, to see whether a wave compiled kernels.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import openai

# The chat's defaults per mode (backend/chat/settings.py: THINKING_DEFAULTS and
# NON_THINKING_DEFAULTS), written out so that vLLM's own environment runs this file.
SAMPLED = {
    True: {"temperature": 0.6, "top_p": 0.95, "extra": {"top_k": 20, "min_p": 0.0}},
    False: {"temperature": 0.7, "top_p": 0.8, "extra": {"top_k": 20, "min_p": 0.0}},
}
WORDS = "alpha beta gamma delta river stone cloud maple quiet bright north slow".split()


def request_params(mode: str, thinking: bool) -> dict[str, Any]:
    """Sampling parameters for one request of a wave (``greedy`` or ``sampled``)."""
    if mode == "greedy":
        return {"temperature": 0.0, "extra": {}}
    if mode == "sampled":
        return dict(SAMPLED[thinking])
    raise ValueError(f"unknown wave mode {mode!r} (greedy or sampled)")


def gaps_s(arrivals: list[float]) -> list[float]:
    return [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]


def wave_summary(
    mode: str, results: list[tuple[float, list[float]]], wall_s: float, stall_ms: float
) -> dict[str, Any]:
    """One wave's line: ``results`` holds (start, text chunk arrival times) per request."""
    e2e_ms = sorted((arr[-1] - start) * 1000 for start, arr in results if arr)
    worst_gap_ms = sorted(
        (max(gaps_s(arr), default=0.0) * 1000 for _, arr in results), reverse=True
    )
    return {
        "mode": mode,
        "requests": len(results),
        "wall_s": round(wall_s, 3),
        "e2e_ms_p50": round(statistics.median(e2e_ms), 1) if e2e_ms else None,
        "e2e_ms_max": round(e2e_ms[-1], 1) if e2e_ms else None,
        "worst_gap_ms_per_request": [round(g, 1) for g in worst_gap_ms],
        "requests_with_stall": sum(g > stall_ms for g in worst_gap_ms),
        "chunks_per_request": round(statistics.mean(len(arr) for _, arr in results), 1),
    }


async def one_request(
    client: openai.AsyncOpenAI, model: str, a: argparse.Namespace, mode: str, i: int
) -> tuple[float, list[float]]:
    thinking = i % 2 == 0
    params = request_params(mode, thinking)
    prompt = " ".join(random.choice(WORDS) for _ in range(a.prompt_words))
    start = time.perf_counter()
    arrivals: list[float] = []
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": f"{i} {time.time()} {prompt}"}],
        stream=True,
        max_tokens=a.output_len,
        temperature=params["temperature"],
        **({"top_p": params["top_p"]} if "top_p" in params else {}),
        extra_body={
            "ignore_eos": True,
            "chat_template_kwargs": {"enable_thinking": thinking},
            **params["extra"],
        },
    )
    async with stream:
        async for chunk in stream:
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is not None and (delta.content or getattr(delta, "reasoning", None)):
                arrivals.append(time.perf_counter())
    return start, arrivals


async def run_wave(
    client: openai.AsyncOpenAI, model: str, a: argparse.Namespace, mode: str, n: int
) -> dict[str, Any]:
    async def staggered(i: int) -> tuple[float, list[float]]:
        await asyncio.sleep(i * a.stagger_ms / 1000)
        return await one_request(client, model, a, mode, i)

    before = count_files(a.cache_dir)
    start = time.perf_counter()
    results = await asyncio.gather(*(staggered(i) for i in range(n)))
    line = wave_summary(mode, list(results), time.perf_counter() - start, a.stall_ms)
    if a.cache_dir:
        line["cache_files_added"] = count_files(a.cache_dir) - before
    return line


def count_files(folder: str | None) -> int:
    if not folder or not Path(folder).expanduser().is_dir():
        return 0
    return sum(1 for p in Path(folder).expanduser().rglob("*") if p.is_file())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sampler_stall", description=__doc__)
    p.add_argument("--base-url", required=True, help="the server's /v1 URL")
    p.add_argument("--api-key", default="EMPTY")
    p.add_argument("--wave", action="append", required=True, help="MODE:N, MODE greedy|sampled")
    p.add_argument("--output-len", type=int, default=256)
    p.add_argument("--prompt-words", type=int, default=60)
    p.add_argument("--stagger-ms", type=float, default=25.0)
    p.add_argument("--stall-ms", type=float, default=1000.0)
    p.add_argument("--cache-dir", default=None, help="count files here before/after each wave")
    return p.parse_args(argv)


async def main(a: argparse.Namespace) -> None:
    client = openai.AsyncOpenAI(base_url=a.base_url, api_key=a.api_key, max_retries=0)
    model = (await client.models.list()).data[0].id
    for spec in a.wave:
        mode, _, n = spec.partition(":")
        print(json.dumps(await run_wave(client, model, a, mode, int(n))), flush=True)
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
