"""Closed-loop load from several client processes, summarised as one level of the load tester.

``python -m backend.loadtest`` drives a level from one process, and its event loop parses every
streamed chunk through the openai SDK: about 120 µs a chunk on one core (8–9k chunks/s
measured against a server that answers instantly). An H100/H200 serving Qwen3-4B streams
20k+ tokens/s at 256 streams, one chunk per token, so a single process would measure itself.

This splits each level's concurrency over N processes. Each runs the load tester's own pieces
(its workload rules, ``DirectTarget``, ``run_closed_loop``; prompts sized by bench/prompts.py);
they start together behind a barrier, and their per-request results are merged into the load
tester's pure ``summarize`` over the common wall time, so the row has the same definitions
and JSON schema as the load tester's (plus ``shards``, ``warmup``, ``input_len``,
``output_len``, ``think_ratio``). Warm-up requests (same prompt length, 16 output tokens) run
at the level's concurrency before the barrier and are not counted.

    python -m bench.sharded_load --levels 1:8,64:256,256:768 --input-len 512 \
        --output-len 256 --endpoint chat --think-ratio 0.5 --json rows.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from backend.loadtest import report
from backend.loadtest.cli import root_of
from backend.loadtest.direct import DirectTarget, first_model_id, make_client
from backend.loadtest.metrics import RequestResult, summarize
from backend.loadtest.runner import ServerSampler, run_closed_loop
from backend.loadtest.server_view import summarize_server
from backend.loadtest.workload import Endpoint, Tokenizer
from bench.prompts import build_plan

STREAMS_PER_SHARD = 16
WARMUP_OUTPUT_LEN = 16
BARRIER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ShardJob:
    base_url: str
    api_key: str | None
    model: str
    endpoint: Endpoint
    concurrency: int
    requests: int
    warmup: int
    input_len: int
    output_len: int
    think_ratio: float
    seed: int
    duration_s: float | None
    timeout_s: float


def parse_levels(text: str) -> list[tuple[int, int]]:
    """``"1:8,64:256"`` -> ``[(1, 8), (64, 256)]`` (concurrency, counted requests)."""
    levels = []
    for item in text.split(","):
        streams, _, requests = item.strip().partition(":")
        levels.append((int(streams), int(requests or 0) or 4 * int(streams)))
    return levels


def split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def shard_count(concurrency: int, max_shards: int) -> int:
    return max(1, min(max_shards, math.ceil(concurrency / STREAMS_PER_SHARD), concurrency))


async def _plan(job: ShardJob, http: httpx.AsyncClient, count: int, out_len: int, seed: int):
    tokenizer = Tokenizer(root_of(job.base_url), job.model, job.endpoint, http)
    think = job.think_ratio if job.endpoint == "chat" else 0.0
    return await build_plan(
        count,
        input_len=job.input_len,
        output_len=out_len,
        think_ratio=think,
        seed=seed,
        tokenizer=tokenizer,
    )


async def _shard(job: ShardJob, barrier: Any) -> tuple[float, float, list[RequestResult], bool]:
    async with httpx.AsyncClient(timeout=60.0) as http:
        plan = await _plan(job, http, job.requests, job.output_len, job.seed)
        warm = await _plan(job, http, job.warmup, WARMUP_OUTPUT_LEN, job.seed + 1)
    client = make_client(job.base_url, job.api_key, job.concurrency, job.timeout_s)
    target = DirectTarget(client, job.model, job.endpoint)
    if warm.specs:
        await run_closed_loop(target.send, warm.specs, min(job.concurrency, len(warm.specs)))
    await asyncio.get_running_loop().run_in_executor(None, barrier.wait, BARRIER_TIMEOUT_S)
    start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    run = await run_closed_loop(target.send, plan.specs, job.concurrency, duration_s=job.duration_s)
    end = time.perf_counter()
    await client.close()
    return start, end, list(run.results), plan.exact


def _worker(job: ShardJob, barrier: Any, queue: Any) -> None:
    try:
        queue.put(asyncio.run(_shard(job, barrier)))
    except BaseException as exc:  # the parent must hear about it, not wait forever
        barrier.abort()
        queue.put(exc)


def shard_jobs(args: argparse.Namespace, model: str, level: int, streams: int, requests: int):
    shards = shard_count(streams, args.max_shards)
    streams_each = split_evenly(streams, shards)
    requests_each = split_evenly(requests, shards)
    warmup_each = split_evenly(streams if args.warmup else 0, shards)
    return [
        ShardJob(
            args.base_url,
            args.api_key,
            model,
            args.endpoint,
            streams_each[i],
            requests_each[i],
            warmup_each[i],
            args.input_len,
            args.output_len,
            args.think_ratio,
            args.seed + 7919 * level + 104729 * (i + 1),
            args.duration,
            args.timeout,
        )
        for i in range(shards)
    ]


async def run_level(args: argparse.Namespace, jobs: list[ShardJob], streams: int) -> dict:
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(len(jobs) + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(job, barrier, queue)) for job in jobs]
    for proc in procs:
        proc.start()
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, barrier.wait, BARRIER_TIMEOUT_S)
    except threading.BrokenBarrierError:
        cause = await loop.run_in_executor(None, queue.get, True, 10.0)
        raise RuntimeError(f"a client shard failed before the start: {cause!r}") from None
    async with ServerSampler(root_of(args.base_url), args.api_key, 0.5) as sampler:
        outcomes = [await loop.run_in_executor(None, queue.get) for _ in jobs]
    for proc in procs:
        proc.join()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise RuntimeError(f"a client shard failed: {failures[0]!r}")
    results = [r for _, _, shard, _ in outcomes for r in shard]
    elapsed_s = max(o[1] for o in outcomes) - min(o[0] for o in outcomes)
    summary = summarize(results, elapsed_s, concurrency=streams)
    exact = all(o[3] for o in outcomes)
    level = report.Level("direct", args.endpoint, summary, summarize_server(sampler.samples), exact)
    row = report.level_row(level)
    row.update(
        shards=len(jobs),
        warmup=sum(j.warmup for j in jobs),
        input_len=args.input_len,
        output_len=args.output_len,
        think_ratio=args.think_ratio,
    )
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.sharded_load", description=__doc__)
    p.add_argument("--base-url", default="http://127.0.0.1:8001/v1")
    p.add_argument("--api-key", default=None)
    p.add_argument("--model", default=None, help="default: first id from /v1/models")
    p.add_argument("--endpoint", choices=("chat", "completions"), default="chat")
    p.add_argument("--levels", type=parse_levels, default="1:8", help="streams:requests,...")
    p.add_argument("--input-len", type=int, default=512)
    p.add_argument("--output-len", type=int, default=256)
    p.add_argument("--think-ratio", type=float, default=0.0)
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--duration", type=float, default=None, help="stop issuing after S seconds")
    p.add_argument("--max-shards", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    p.add_argument("--json", dest="json_path", default=None)
    return p.parse_args(argv)


async def _resolve_model(args: argparse.Namespace) -> str:
    if args.model:
        return args.model
    client = make_client(args.base_url, args.api_key, 1, 30.0)
    try:
        return await first_model_id(client)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model = asyncio.run(_resolve_model(args))
    rows: list[dict[str, Any]] = []
    for i, (streams, requests) in enumerate(args.levels):
        jobs = shard_jobs(args, model, i, streams, requests)
        rows.append(asyncio.run(run_level(args, jobs, streams)))
        r = rows[-1]
        print(
            f"c={streams} shards={r['shards']} ok={r['success']} fail={r['failed']} "
            f"out_tok_s={r['output_tok_s']:.0f} ttft_ms p50={r['ttft_ms']['p50']:.0f} "
            f"p99={r['ttft_ms']['p99']:.0f} tpot_ms p50={r['tpot_ms']['p50']:.2f}",
            flush=True,
        )
        if args.json_path:
            with open(args.json_path, "w", encoding="utf-8") as f:
                json.dump(rows, f, indent=1)
    return 0 if all(r["success"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
