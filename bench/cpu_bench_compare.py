"""The load tester against vLLM's own benchmark, on one vLLM CPU server with the demo model.

Starts vLLM (CPU build) with the bundled demo model the way the tests do
(``tests/support/engine.py``), then, for each level ``C:N`` and each round, runs the same
workload through both tools, one after the other, never at once:

- ``vllm bench serve`` (through ``bench.vllm_server.BENCH_SERVE``: the console script needs
  vLLM's distribution metadata, which the CPU build lacks) with ``--backend vllm``,
  ``--endpoint /v1/completions``, the random dataset, ``--ignore-eos``, ``--temperature 0``,
  ``--num-warmups 4`` and ``--save-result``;
- ``python -m backend.loadtest --endpoint completions --warmup 4 --json ...`` (which sends
  ``temperature 0`` and ``ignore_eos`` itself).

Rounds alternate which tool goes first, so a drift of the machine does not favour one tool.
Every run gets its own seed, so no prompt repeats and the prefix cache serves nothing
between runs. ``/metrics`` is read around each run for the prefix-cache hits it caused.

    .venv/bin/python -m bench.cpu_bench_compare --levels 1:32,8:96 --rounds 2 \\
        --json bench/results/cpu-bench-compare.json
    .venv/bin/python -m bench.cpu_bench_compare --table bench/results/cpu-bench-compare.json
    .venv/bin/python -m bench.cpu_bench_compare --dry-run     # the commands, nothing started
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from backend.config import server_root
from backend.server.metrics import metrics_url, parse_metrics
from bench.vllm_server import BENCH_SERVE, stream_probe

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
ENGINE_PYTHON = ROOT / ".venv-engine" / "bin" / "python"
MODEL = "qwen3-demo"
LOGS = ROOT / "artifacts"
RUN_LIMIT_S = 600
METRICS = ("output_tok_s", "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "itl_p50_ms")


def vllm_bench_cmd(root_url: str, c: int, n: int, i: int, o: int, seed: int, out: Path):
    return [
        str(ENGINE_PYTHON), "-c", BENCH_SERVE,
        "--backend", "vllm", "--base-url", root_url, "--endpoint", "/v1/completions",
        "--model", MODEL, "--served-model-name", MODEL, "--tokenizer", str(ROOT / "demo_model"),
        "--dataset-name", "random", "--random-input-len", str(i), "--random-output-len", str(o),
        "--ignore-eos", "--temperature", "0", "--num-warmups", "4",
        "--max-concurrency", str(c), "--num-prompts", str(n), "--seed", str(seed),
        "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
        "--save-result", "--save-detailed", "--disable-tqdm",
        "--result-dir", str(out.parent), "--result-filename", out.name,
    ]  # fmt: skip


def loadtest_cmd(base_url: str, c: int, n: int, i: int, o: int, seed: int, out: Path):
    return [
        str(PYTHON), "-m", "backend.loadtest", "--endpoint", "completions",
        "--base-url", base_url, "--model", MODEL, "--concurrency", str(c),
        "--num-requests", str(n), "--input-len", str(i), "--output-len", str(o),
        "--warmup", "4", "--seed", str(seed), "--metrics-interval", "60", "--json", str(out),
    ]  # fmt: skip


def from_vllm(result: dict[str, Any]) -> dict[str, Any]:
    """The compared numbers from a ``vllm bench serve --save-result --save-detailed`` file."""
    itls = result.get("itls") or []
    ok = [len(x) + 1 for x, err in zip(itls, result.get("errors") or [], strict=False) if not err]
    return {
        "output_tok_s": result["output_throughput"],
        "ttft_p50_ms": result["p50_ttft_ms"],
        "ttft_p99_ms": result["p99_ttft_ms"],
        "tpot_p50_ms": result["p50_tpot_ms"],
        "itl_p50_ms": result["p50_itl_ms"],
        "e2e_p50_ms": result["p50_e2el_ms"],
        "duration_s": result["duration"],
        "completed": result["completed"],
        "failed": result["failed"],
        "total_input_tokens": result["total_input_tokens"],
        "total_output_tokens": result["total_output_tokens"],
        "chunks_per_request": statistics.mean(ok) if ok else None,
    }


def from_loadtest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The compared numbers from ``backend.loadtest --json`` (one level)."""
    row = rows[0]
    ok = row["success"]
    return {
        "output_tok_s": row["output_tok_s"],
        "ttft_p50_ms": row["ttft_ms"]["p50"],
        "ttft_p99_ms": row["ttft_ms"]["p99"],
        "tpot_p50_ms": row["tpot_ms"]["p50"],
        "itl_p50_ms": row["itl_ms"]["p50"],
        "e2e_p50_ms": row["e2e_ms"]["p50"],
        "duration_s": row["duration_s"],
        "completed": ok,
        "failed": row["failed"],
        "total_input_tokens": row["total_input_tokens"],
        "total_output_tokens": row["total_output_tokens"],
        "chunks_per_request": row["itl_ms"]["n"] / ok + 1 if ok else None,
        "input_len_exact": row.get("input_len_exact"),
    }


def prefix_counters(base_url: str) -> tuple[int, int]:
    try:
        m = parse_metrics(httpx.get(metrics_url(base_url), timeout=5).text)
    except httpx.HTTPError:
        return 0, 0
    return m.prefix_cache_hits, m.prefix_cache_queries


def run_one(tool: str, base_url: str, c: int, n: int, ns: argparse.Namespace, seed: int):
    root_url = server_root(base_url)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{tool}.json"
        if tool == "vllm":
            cmd = vllm_bench_cmd(root_url, c, n, ns.input_len, ns.output_len, seed, out)
        else:
            cmd = loadtest_cmd(base_url, c, n, ns.input_len, ns.output_len, seed, out)
        log = LOGS / f"cpu-bench-compare-{tool}-c{c}-s{seed}.log"
        before = prefix_counters(base_url)
        wall = time.perf_counter()
        with log.open("w") as fh:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=RUN_LIMIT_S, check=False)  # fmt: skip
        wall = time.perf_counter() - wall
        hits, queries = (b - a for a, b in zip(before, prefix_counters(base_url), strict=True))
        if proc.returncode != 0 and not out.exists():
            raise RuntimeError(f"{tool} exited {proc.returncode}; see {log}")
        raw = json.loads(out.read_text())
        (LOGS / f"cpu-bench-compare-{tool}-c{c}-s{seed}.json").write_text(out.read_text())
    numbers = from_vllm(raw) if tool == "vllm" else from_loadtest(raw)
    return {
        "tool": tool,
        "concurrency": c,
        "num_requests": n,
        "seed": seed,
        "process_wall_s": round(wall, 1),
        "prefix_cache_hit_tokens": hits,
        "prefix_cache_query_tokens": queries,
        **numbers,
        "command": cmd[:2] + ["<BENCH_SERVE>"] + cmd[3:] if tool == "vllm" else cmd,
    }


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per level: each tool's mean over rounds, its spread, and loadtest vs vLLM in %."""
    out = []
    for c in sorted({r["concurrency"] for r in runs}):
        level: dict[str, Any] = {"concurrency": c}
        for tool in ("vllm", "loadtest"):
            mine = [r for r in runs if r["concurrency"] == c and r["tool"] == tool]
            level["num_requests"] = mine[0]["num_requests"] if mine else None
            level[tool] = {
                k: {
                    "mean": statistics.mean(r[k] for r in mine),
                    "min": min(r[k] for r in mine),
                    "max": max(r[k] for r in mine),
                }
                for k in (*METRICS, "e2e_p50_ms", "chunks_per_request")
            } if mine else None  # fmt: skip
        if level["vllm"] and level["loadtest"]:
            level["loadtest_vs_vllm_pct"] = {
                k: 100 * (level["loadtest"][k]["mean"] / level["vllm"][k]["mean"] - 1)
                for k in METRICS
            }
        out.append(level)
    return out


def markdown_table(data: dict[str, Any]) -> str:
    names = {
        "output_tok_s": "output tok/s",
        "ttft_p50_ms": "TTFT p50 ms",
        "ttft_p99_ms": "TTFT p99 ms",
        "tpot_p50_ms": "TPOT p50 ms",
        "itl_p50_ms": "ITL p50 ms",
    }
    lines = [
        "| C / N | metric | `vllm bench serve` | `backend.loadtest` | difference |",
        "|---|---|---|---|---|",
    ]
    for level in data["summary"]:
        if "loadtest_vs_vllm_pct" not in level:
            continue
        for k, label in names.items():
            v, lt = level["vllm"][k], level["loadtest"][k]
            lines.append(
                f"| {level['concurrency']} / {level['num_requests']} | {label} "
                f"| {_cell(v)} | {_cell(lt)} | {level['loadtest_vs_vllm_pct'][k]:+.1f}% |"
            )
    return "\n".join(lines) + "\n"


def _cell(stat: dict[str, float]) -> str:
    fmt = "{:.0f}" if stat["mean"] >= 100 else "{:.2f}"
    if stat["min"] == stat["max"]:
        return fmt.format(stat["mean"])
    return f"{fmt.format(stat['mean'])} ({fmt.format(stat['min'])}–{fmt.format(stat['max'])})"


def plan(ns: argparse.Namespace) -> list[tuple[int, int, int, str, int]]:
    """(round, C, N, tool, seed) in run order; rounds alternate which tool goes first."""
    order = []
    for rnd in range(ns.rounds):
        tools = ("vllm", "loadtest") if rnd % 2 == 0 else ("loadtest", "vllm")
        for c, n in ns.levels:
            for tool in tools:
                order.append((rnd, c, n, tool, ns.seed + 1000 * rnd + 10 * c + len(order)))
    return order


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.cpu_bench_compare", description=__doc__)
    p.add_argument("--levels", default="1:32,8:96", help="C:N pairs")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=64)
    p.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    p.add_argument("--json", dest="json_path", default="bench/results/cpu-bench-compare.json")
    p.add_argument("--table", metavar="JSON", help="only print a result file as markdown")
    p.add_argument("--dry-run", action="store_true", help="print the commands, start nothing")
    ns = p.parse_args(argv)
    ns.levels = [tuple(int(x) for x in pair.split(":")) for pair in ns.levels.split(",")]
    return ns


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns.table:
        print(markdown_table(json.loads(Path(ns.table).read_text())))
        return 0
    if ns.dry_run:
        for rnd, c, n, tool, seed in plan(ns):
            make = vllm_bench_cmd if tool == "vllm" else loadtest_cmd
            url = "http://127.0.0.1:PORT" + ("" if tool == "vllm" else "/v1")
            cmd = make(url, c, n, ns.input_len, ns.output_len, seed, Path("/tmp/out.json"))
            cmd = cmd[:2] + ["<BENCH_SERVE>"] + cmd[3:] if tool == "vllm" else cmd
            print(f"round {rnd} C={c} N={n}: {' '.join(cmd)}")
        return 0

    from backend.engine.process import free_port
    from tests.support.engine import engine_config, start_engine

    LOGS.mkdir(exist_ok=True)
    config = engine_config(free_port(), vllm_api_key="")
    started = time.monotonic()
    engine = start_engine(config, "cpu-bench-compare-vllm.log")
    data: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPU cores, no GPU; server and clients on the same cores",
        "server": "vLLM CPU build, demo model (tests/support/engine.py), one process for all runs",
        "engine_start_s": round(time.monotonic() - started, 1),
        "input_len": ns.input_len,
        "output_len": ns.output_len,
        "runs": [],
    }
    path = Path(ns.json_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        probe = (config.vllm_base_url, MODEL, ns.input_len, ns.output_len)
        data["stream_probe"] = [stream_probe(*probe) for _ in range(3)]
        for rnd, c, n, tool, seed in plan(ns):
            run = run_one(tool, config.vllm_base_url, c, n, ns, seed)
            run["round"] = rnd
            data["runs"].append(run)
            data["summary"] = summarize(data["runs"])
            path.write_text(json.dumps(data, indent=1) + "\n")  # kept after every run
            print(
                f"round {rnd} C={c} {tool:8} {run['output_tok_s']:.1f} tok/s  TTFT p50 "
                f"{run['ttft_p50_ms']:.1f} p99 {run['ttft_p99_ms']:.1f}  TPOT p50 "
                f"{run['tpot_p50_ms']:.2f}  ITL p50 {run['itl_p50_ms']:.2f} ms  "
                f"chunks/req {run['chunks_per_request']}",
                flush=True,
            )
    finally:
        engine.stop()
    print(markdown_table(data))
    return 0 if all(r["failed"] == 0 for r in data["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
