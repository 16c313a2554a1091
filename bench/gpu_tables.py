"""Markdown tables from bench.gpu_profiles results: the engine matrix, the goals, the planner.

    python -m bench.gpu_tables bench/results/gpu-engine-*.json

Prints three tables: every level of every run; per config at 1 and 256 streams the mean of
the runs against ``defaults`` (the goals: +25% tok/s at one stream, +15% at 256 with p99 TTFT
no worse); and each server's start-up log next to the planner's prediction for the same
flags (weights, KV GiB, KV tokens, concurrency), with the differences in percent.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from backend.planner import plan
from backend.planner.model_specs import KNOWN_MODELS
from bench.gpu_plans import PLANS, config_flags, config_weights
from bench.vllm_server import flag_pairs

GOAL_LEVELS = {1: 0.25, 256: 0.15}


def load_jobs(paths: list[str]) -> list[dict[str, Any]]:
    jobs = []
    for path in paths:
        jobs += [j for j in json.loads(Path(path).read_text())["jobs"] if j.get("loads")]
    return jobs


def level_rows(job: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    """(run, streams, row) for every level that returned a result."""
    found = []
    for entry in job["loads"]:
        result = entry.get("result")
        if isinstance(result, list) and result:
            found.append((entry["run"], entry["streams"], result[0]))
    return found


def matrix(jobs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| config | streams | run | ok/failed | output tok/s | TTFT p50 / p99 ms "
        "| TPOT p50 / p99 ms | running / waiting max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for job in jobs:
        for run, streams, r in sorted(level_rows(job), key=lambda x: (x[1], x[0])):
            server = r.get("server") or {}
            lines.append(
                f"| {config_of(job)} | {streams} | {run} | {r['success']}/{r['failed']} "
                f"| {r['output_tok_s']:,.0f} | {r['ttft_ms']['p50']:,.0f} / "
                f"{r['ttft_ms']['p99']:,.0f} | {r['tpot_ms']['p50']:.2f} / "
                f"{r['tpot_ms']['p99']:.2f} | {server.get('running_max', '-')} / "
                f"{server.get('waiting_max', '-')} |"
            )
    return lines


def config_of(job: dict[str, Any]) -> str:
    return job["job"].split(":", 1)[1]


def means(job: dict[str, Any], streams: int) -> tuple[float, float, int] | None:
    """Mean output tok/s and mean p99 TTFT over the runs at this level, and the run count."""
    rows = [r for _, s, r in level_rows(job) if s == streams]
    if not rows:
        return None
    tok = statistics.mean(r["output_tok_s"] for r in rows)
    return tok, statistics.mean(r["ttft_ms"]["p99"] for r in rows), len(rows)


def goals(jobs: list[dict[str, Any]]) -> list[str]:
    base = next((j for j in jobs if config_of(j) == "defaults"), None)
    lines = [
        "| config | streams | runs | output tok/s (mean) | vs defaults | TTFT p99 ms (mean) "
        "| vs defaults |",
        "|---|---|---|---|---|---|---|",
    ]
    for streams in (1, 256, 512):
        ref = means(base, streams) if base else None
        for job in jobs:
            got = means(job, streams)
            if not got:
                continue
            tok_vs = f"{(got[0] / ref[0] - 1) * 100:+.1f}%" if ref else "-"
            ttft_vs = f"{(got[1] / ref[1] - 1) * 100:+.1f}%" if ref else "-"
            lines.append(
                f"| {config_of(job)} | {streams} | {got[2]} | {got[0]:,.0f} | {tok_vs} "
                f"| {got[1]:,.0f} | {ttft_vs} |"
            )
    return lines


def predicted(job: dict[str, Any]):
    """The planner's plan for the job's server: same GPU total, flags and weights."""
    config = config_of(job)
    flags = dict(flag_pairs(config_flags(config)))
    startup = job.get("startup") or {}
    spec = KNOWN_MODELS[
        "Qwen/Qwen3-4B-FP8" if config_weights(config) == "fp8-block" else "Qwen/Qwen3-4B"
    ]
    batched = startup.get("max_num_batched_tokens") or flags.get("--max-num-batched-tokens")
    p = PLANS[job["job"].split(":", 1)[0]]
    return plan(
        spec,
        startup.get("total_gib", 139.8),
        p.utilization,
        p.max_model_len,
        flags.get("--kv-cache-dtype", "auto"),
        max_num_batched_tokens=int(batched) if batched else None,
        quantization=flags.get("--quantization"),
    )


def planner(jobs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| config | weights GiB vLLM / planner | KV GiB vLLM / planner | KV tokens vLLM / "
        "planner | concurrency vLLM / planner | worst diff |",
        "|---|---|---|---|---|---|",
    ]
    for job in jobs:
        s = job.get("startup") or {}
        if "kv_cache_tokens" not in s:
            continue
        p = predicted(job)
        pairs = [
            (s.get("model_loading_gib"), p.weights_gib),
            (s.get("available_kv_gib"), p.available_kv_gib),
            (s.get("kv_cache_tokens"), p.kv_cache_tokens),
            (s.get("max_concurrency_x"), p.max_concurrency),
        ]
        worst = max(abs(b / a - 1) * 100 for a, b in pairs if a)
        cells = [f"{a:,} / {b:,}" if isinstance(a, int) else f"{a} / {b:.2f}" for a, b in pairs]
        lines.append(f"| {config_of(job)} | {' | '.join(cells)} | {worst:.2f}% |")
    return lines


def main(argv: list[str] | None = None) -> int:
    jobs = load_jobs(argv if argv is not None else sys.argv[1:])
    for table in (matrix(jobs), goals(jobs), planner(jobs)):
        print("\n".join(table), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
