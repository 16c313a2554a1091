"""What saving conversations costs the chat, with both settings running side by side.

`relay_bench --persistence off,on` runs the two settings one after the other, so a change in
the machine's speed between runs (runs of one setting spread 10–15% on a shared host) lands
on one side only. Here each round starts two chat front ends against one scripted model
server, one with saving off (SAVE_HISTORY=off) and one with saving on (a fresh SQLite
database, each in a new temporary folder), sends both the same workload at the same time,
and reads each process's CPU time from ``/proc`` around it, after an unmeasured warm-up
level on both (a fresh process's first answers pay for imports and caches once). Whatever
slows the machine slows both. The front end started first costs more per answer, whichever
side it is, so the rounds alternate the order and each order weighs the same (`balanced`).

    .venv/bin/python -m bench.saving_ab --rounds 12 --concurrency 16 --turns 4 \\
        --json bench/results/saving-ab-gpu-pace.json

The default server pace is one H200 stream of Qwen3-4B (a token per chunk, 3.8 ms apart);
``--fast-server-args`` changes it (relay_bench's fast pace: ``--token-interval-ms 0.4
--tokens-per-chunk 4 --first-token-ms 20``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from backend.loadtest import cli
from bench.proc_cpu import cpu_s, loop_cpu_s
from bench.relay_bench import BenchRunner, chat_app, level_args, scripted_server

SIDES = ("off", "on")


async def one_round(
    base_url: str, urls: dict[str, str], pids: dict[str, int], ns: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """Both front ends take the same workload at once; each one's CPU per answer and TTFT."""
    level_ns = argparse.Namespace(**{**vars(ns), "concurrency": str(ns.concurrency)})
    args = {side: level_args(base_url, "fast", level_ns, urls[side]) for side in SIDES}
    model = await cli.resolve_model(args["off"])
    level = cli.LevelSpec(ns.concurrency, None)
    async with httpx.AsyncClient(timeout=30.0) as http:
        runners = {}
        for side in SIDES:
            args[side].num_requests = ns.requests_per_user * ns.concurrency
            args[side].concurrency = [ns.concurrency]
            runners[side] = BenchRunner(args[side], model, http)
        if ns.warm_requests_per_user:  # first-use costs (imports, caches) are not per answer
            for side in SIDES:
                runners[side].args.num_requests = ns.warm_requests_per_user * ns.concurrency
            await asyncio.gather(*(runners[s].level(level, "app", seed + 1) for s in SIDES))
            for side in SIDES:
                runners[side].args.num_requests = ns.requests_per_user * ns.concurrency
        before = {side: (cpu_s(pids[side]), loop_cpu_s(pids[side])) for side in SIDES}
        wall = time.perf_counter()
        # The same seed: the same prompts and the same thinking/non-thinking mix on each side.
        rows = await asyncio.gather(*(runners[s].level(level, "app", seed) for s in SIDES))
        wall = time.perf_counter() - wall
        after = {side: (cpu_s(pids[side]), loop_cpu_s(pids[side])) for side in SIDES}
    out: dict[str, Any] = {"seed": seed, "wall_s": wall}
    for side, row in zip(SIDES, rows, strict=True):
        answers = max(row["success"] + row["warmup"], 1)
        app_s = after[side][0] - before[side][0]
        loop_s = after[side][1] - before[side][1]
        out[side] = {
            "success": row["success"],
            "failed": row["failed"],
            "cpu_ms_per_answer": 1000 * app_s / answers,
            "loop_ms_per_answer": 1000 * loop_s / answers,
            "threads_ms_per_answer": 1000 * (app_s - loop_s) / answers,
            "ttft_p50_ms": row["ttft_ms"]["p50"],
            "ttft_p99_ms": row["ttft_ms"]["p99"],
            "socket_events_per_answer": row["socket_events_per_answer"],
        }
    return out


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (nan with one value)."""
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return statistics.fmean(values), se


def by_order(rounds: list[dict[str, Any]], key: str) -> dict[str, tuple[float, float]]:
    """The per-round difference on − off (mean, s.e.) by which side started first."""
    out = {}
    for first in SIDES:
        diffs = [r["on"][key] - r["off"][key] for r in rounds if r["started_first"] == first]
        if diffs:
            out[first] = mean_se(diffs)
    return out


def balanced(rounds: list[dict[str, Any]], key: str) -> tuple[float, float]:
    """The mean per-round difference on − off, each start order weighted equally, ± s.e.

    The front end started first in a round costs more per answer than the other, whichever
    side it is (about 1.3 ms at GPU pace on a two-core host; the cause is not known), so
    the rounds alternate the order and the estimate is the mean of the two orders' means.
    """
    means = list(by_order(rounds, key).values())
    if len(means) == 1:
        return means[0]
    (a, a_se), (b, b_se) = means
    return (a + b) / 2, (a_se**2 + b_se**2) ** 0.5 / 2


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    off = statistics.fmean(r["off"]["cpu_ms_per_answer"] for r in rounds)
    cpu, cpu_se = balanced(rounds, "cpu_ms_per_answer")
    ttft, ttft_se = balanced(rounds, "ttft_p50_ms")
    return {
        "rounds": len(rounds),
        "off_cpu_ms_per_answer": off,
        "on_cpu_ms_per_answer": statistics.fmean(r["on"]["cpu_ms_per_answer"] for r in rounds),
        "added_cpu_ms_per_answer": cpu,
        "added_cpu_ms_se": cpu_se,
        "added_cpu_pct": 100 * cpu / off,
        "added_cpu_pct_se": 100 * cpu_se / off,
        "added_cpu_ms_by_first_started": by_order(rounds, "cpu_ms_per_answer"),
        "added_ttft_p50_ms": ttft,
        "added_ttft_p50_ms_se": ttft_se,
        "writer_thread_ms_per_answer": statistics.fmean(
            r["on"]["threads_ms_per_answer"] for r in rounds
        ),
    }


async def bench(ns: argparse.Namespace) -> list[dict[str, Any]]:
    rounds: list[dict[str, Any]] = []
    with scripted_server(ns.fast_server_args.split()) as (base_url, _):
        for i in range(ns.rounds):
            order = SIDES if i % 2 == 0 else SIDES[::-1]
            with contextlib.ExitStack() as apps:
                urls, pids = {}, {}
                for side in order:
                    urls[side], pids[side] = apps.enter_context(
                        chat_app(base_url, ns.flush_ms, side, ns.env)
                    )
                result = await one_round(base_url, urls, pids, ns, ns.seed + 7919 * i)
            result["started_first"] = order[0]
            rounds.append(result)
            off, on = result["off"], result["on"]
            print(
                f"round {i + 1}/{ns.rounds}: CPU ms/answer off {off['cpu_ms_per_answer']:.2f} "
                f"on {on['cpu_ms_per_answer']:.2f} (writer {on['threads_ms_per_answer']:.2f})"
                f"  TTFT p50 off {off['ttft_p50_ms']:.1f} on {on['ttft_p50_ms']:.1f} ms",
                flush=True,
            )
    return rounds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.saving_ab", description=__doc__)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=16, help="sessions per front end")
    p.add_argument("--requests-per-user", type=int, default=6)
    p.add_argument("--turns", type=int, default=4, help="answers per chat session")
    p.add_argument(
        "--warm-requests-per-user",
        type=int,
        default=1,
        help="an unmeasured level first, on both sides (0: none)",
    )
    p.add_argument("--flush-ms", type=float, default=50.0)
    p.add_argument("--input-len", type=int, default=32)
    p.add_argument(
        "--fast-server-args",
        default="--token-interval-ms 3.8 --tokens-per-chunk 1 --first-token-ms 20",
    )
    p.add_argument(
        "--stream-interval-tokens",
        type=int,
        default=None,
        help="STREAM_INTERVAL_TOKENS for both front ends (default: each learns it)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", dest="json_path", default="bench/results/saving-ab.json")
    ns = p.parse_args(argv)
    ns.env = {}
    if ns.stream_interval_tokens is not None:
        ns.env["STREAM_INTERVAL_TOKENS"] = str(ns.stream_interval_tokens)
    return ns


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    rounds = asyncio.run(bench(ns))
    summary = summarize(rounds)
    print(
        f"saving on vs off, {summary['rounds']} rounds: CPU "
        f"{summary['off_cpu_ms_per_answer']:.2f} -> {summary['on_cpu_ms_per_answer']:.2f} "
        f"ms/answer, {summary['added_cpu_pct']:+.2f}% ± {summary['added_cpu_pct_se']:.2f}% "
        f"({summary['added_cpu_ms_per_answer']:+.2f} ± {summary['added_cpu_ms_se']:.2f} ms); "
        f"TTFT p50 {summary['added_ttft_p50_ms']:+.2f} ± {summary['added_ttft_p50_ms_se']:.2f} ms"
    )
    Path(ns.json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(ns.json_path).write_text(
        json.dumps({"summary": summary, "rounds": rounds, "argv": argv or sys.argv[1:]}, indent=1)
        + "\n"
    )
    return 0 if all(r[s]["failed"] == 0 for r in rounds for s in SIDES) else 1


if __name__ == "__main__":
    sys.exit(main())
