"""Measure vLLM launch profiles on a GPU: start a server per configuration, load it, stop it.

Runs on the H100/H200 test machine from the repository root (recipe in bench/gpu_notes.md):

    python3 -m bench.gpu_profiles --out "$OUT" --job profiles:defaults --job profiles:throughput

A job is PLAN:CONFIG (bench/gpu_plans.py has both). Before the first server, every flag is
parsed by the installed vLLM's own argument parser; a flag it rejects is dropped from the
runs and recorded.

OUT gets ``results.json`` (rewritten after every job, so a cut-off run keeps what finished)
and ``logs.tgz`` (server logs). Jobs that would not finish before ``--deadline-s`` are
skipped and listed, so the machine's per-command limit is never crossed.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.engine.profiles import PROFILES
from bench.gpu_plans import (
    BASE_URL,
    PLANS,
    PORT,
    VARIANTS,
    Load,
    Plan,
    config_flags,
    config_weights,
    server_command,
)
from bench.vllm_server import (
    BENCH_SERVE,
    Server,
    check_flags,
    cpu_delta,
    describe_device,
    flag_key,
    flag_pairs,
    parse_startup,
)

JOB_MIN_S = 150  # a server start (~60 s) plus a short load


@dataclass
class Bench:
    """Where the run writes, how long it may take, and which interpreter serves."""

    out: Path
    work: Path
    model: str
    deadline: float  # time.monotonic() value
    server_python: str
    device: str
    fp8_model: str | None = None  # bench/fp8_checkpoint.py's output, for fp8-block configs
    results: dict[str, Any] = field(default_factory=dict)
    runs: int = 0

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def next_seed(self) -> int:
        """A fresh seed per client run: the same seed would replay the same prompts, and a
        later level on the same server would hit the prefix cache of an earlier one."""
        self.runs += 1
        return int(time.time()) % 100_000 * 1_000 + self.runs * 10_000_019

    def save(self) -> None:
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1))
        with tarfile.open(self.out / "logs.tgz", "w:gz") as tar:
            for path in sorted(self.work.glob("*.log")):
                tar.add(path, arcname=path.name)


def load_command(s: Bench, plan: Plan, load: Load, streams: int, n: int, out: Path):
    seed = ["--seed", str(s.next_seed())]
    common = ["--input-len", str(load.input_len), "--output-len", str(load.output_len), *seed]
    endpoint = load.endpoint or plan.endpoint
    if load.tool in ("sharded", "cli"):  # the load tester; "sharded": one process per 16 streams
        processes = min(load.max_shards, math.ceil(streams / 16)) if load.tool == "sharded" else 1
        return [
            sys.executable,
            "-m",
            "backend.loadtest",
            "--base-url",
            BASE_URL,
            "--model",
            "q",
            "--endpoint",
            endpoint,
            "--concurrency",
            str(streams),
            "--num-requests",
            str(n),
            "--processes",
            str(max(processes, 1)),
            "--warmup",
            str(streams if load.tool == "sharded" and load.warmup else 0),
            "--think-ratio",
            str(plan.think_ratio if endpoint == "chat" else 0.0),
            "--duration",
            str(plan.level_cap_s),
            "--json",
            str(out),
            *common,
        ]
    return [  # vllm bench serve, random token ids: unique prompts, fixed lengths
        s.server_python,
        "-c",
        BENCH_SERVE,
        "--backend",
        "vllm",
        "--base-url",
        f"http://127.0.0.1:{PORT}",
        "--endpoint",
        "/v1/completions",
        "--model",
        s.model,
        "--served-model-name",
        "q",
        "--tokenizer",
        s.model,
        "--dataset-name",
        "random",
        "--random-input-len",
        str(load.input_len),
        "--random-output-len",
        str(load.output_len),
        "--num-prompts",
        str(n),
        "--max-concurrency",
        str(streams),
        "--ignore-eos",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,90,99",
        "--save-result",
        "--result-dir",
        str(out.parent),
        "--result-filename",
        out.name,
        *seed,
    ]


def run_load(
    s: Bench, plan: Plan, load: Load, tag: str, run: int, server: Server | None = None
) -> list[dict[str, Any]]:
    """One tool at each of its levels; every level is one subprocess, bounded in time."""
    done = []
    endpoint = load.endpoint or plan.endpoint
    for streams, n in (map(int, lv.split(":")) for lv in load.levels.split(",")):
        shards = f"-s{load.max_shards}" if load.tool == "sharded" else ""
        ep = f"-{load.endpoint}" if load.endpoint else ""
        shape = f"c{streams}-i{load.input_len}-o{load.output_len}"
        name = f"{tag}-r{run}-{load.tool}{shards}{ep}-{shape}"
        out, log = s.work / f"{name}.json", s.work / f"{name}.log"
        entry: dict[str, Any] = {
            "run": run,
            "tool": load.tool,
            "streams": streams,
            "requests": n,
            "input_len": load.input_len,
            "output_len": load.output_len,
            "endpoint": "completions" if load.tool == "vllm-bench" else endpoint,
        }
        if s.left_s() < 30:
            done.append({**entry, "skipped": "time"})
            continue
        cmd = load_command(s, plan, load, streams, n, out)
        entry["cmd"] = " ".join(cmd)
        started = time.monotonic()
        cpu_before = server.cpu_s() if server else {}
        try:
            with open(log, "w") as f:
                rc = subprocess.run(
                    cmd, stdout=f, stderr=subprocess.STDOUT, timeout=max(s.left_s() - 20, 10)
                ).returncode
            entry.update(rc=rc, result=_read_result(out))
        except subprocess.TimeoutExpired:
            entry["error"] = "timeout"
        entry["wall_s"] = round(time.monotonic() - started, 1)
        if server:  # cores each server process used during the level (client start included)
            entry["server_cores"] = cpu_delta(cpu_before, server.cpu_s(), entry["wall_s"])
        entry["log_tail"] = log.read_text()[-1500:] if log.exists() else ""
        print(f"  {name}: {entry.get('rc', entry.get('error'))} in {entry['wall_s']} s", flush=True)
        done.append(entry)
    return done


def _read_result(path: Path) -> Any:
    """The tool's JSON; of vLLM's bench result only the scalars (it also lists every text)."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not isinstance(v, (list, dict))}
    return data


def run_job(s: Bench, plan_name: str, config: str, flag_check: dict[str, str]) -> dict:
    plan = PLANS[plan_name]
    pairs = flag_pairs(config_flags(config, s.device))
    rejected = {p for p in pairs if flag_check.get(flag_key(p)) == "rejected"}
    kept = [t for p in pairs if p not in rejected for t in p if t is not None]
    fp8_block = config_weights(config) == "fp8-block"
    if fp8_block and not s.fp8_model:
        return {"job": f"{plan_name}:{config}", "error": "no --fp8-model given"}
    model = s.fp8_model if fp8_block else s.model
    cmd = server_command(s.server_python, model, plan, kept, s.device)
    job: dict[str, Any] = {
        "job": f"{plan_name}:{config}",
        "weights": config_weights(config),
        "flags": kept,
        "dropped": [list(p) for p in sorted(rejected, key=str)],
        "cmd": " ".join(cmd),
    }
    tag = f"{plan_name}-{config}"
    server = Server(cmd, s.work / f"{tag}-server.log", PORT)
    started = time.monotonic()
    try:
        server.start()
        job["ready_s"] = round(server.wait_ready(min(360.0, s.left_s() - 30)), 1)
        job["startup"] = parse_startup(server.log_path.read_text(errors="replace"))
        print(f"{tag}: ready in {job['ready_s']} s", flush=True)
        job["loads"] = [
            e
            for run, load in enumerate(plan.per_config.get(config, plan.loads), 1)
            for e in run_load(s, plan, load, tag, run, server)
        ]
    except Exception as exc:  # recorded; the next job still runs
        job["error"] = f"{type(exc).__name__}: {exc}"
        job["log_tail"] = server.log_path.read_text(errors="replace")[-4000:]
        print(f"{tag}: {job['error']}", flush=True)
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    job["startup"] = job.get("startup") or parse_startup(log)
    job["elapsed_s"] = round(time.monotonic() - started, 1)
    return job


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_profiles", description=__doc__)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--job", action="append", required=True, help="PLAN:CONFIG, repeatable")
    p.add_argument("--model", default=".gpu/kit/qwen3-4b-dummy")
    p.add_argument("--fp8-model", default=None, help="block-FP8 checkpoint (fp8-block configs)")
    p.add_argument("--deadline-s", type=float, default=540.0, help="from now, for all jobs")
    p.add_argument("--work", type=Path, default=Path("/tmp/bench-work"))
    p.add_argument("--job-min-s", type=float, default=JOB_MIN_S, help="skip a job with less left")
    p.add_argument("--server-python", default=sys.executable)
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: dry run")
    a = p.parse_args(argv)
    jobs = [tuple(j.split(":", 1)) for j in a.job]
    for plan_name, config in jobs:
        if plan_name not in PLANS or config not in {"defaults", *PROFILES, *VARIANTS}:
            p.error(f"unknown job {plan_name}:{config}")
    a.work.mkdir(parents=True, exist_ok=True)
    a.out.mkdir(parents=True, exist_ok=True)
    s = Bench(
        a.out,
        a.work,
        str(Path(a.model).resolve()),
        time.monotonic() + a.deadline_s,
        a.server_python,
        a.device,
        str(Path(a.fp8_model).resolve()) if a.fp8_model else None,
    )
    s.results = {"device": describe_device(a.server_python), "jobs": [], "skipped": []}
    pairs = [pr for _, c in jobs for pr in flag_pairs(config_flags(c, a.device))]
    s.results["flag_check"] = check_flags(a.server_python, pairs)
    print("flags:", s.results["flag_check"], flush=True)
    s.save()
    for plan_name, config in jobs:
        if s.left_s() < a.job_min_s:
            s.results["skipped"].append(f"{plan_name}:{config}")
        else:
            s.results["jobs"].append(run_job(s, plan_name, config, s.results["flag_check"]))
        s.save()
    print("skipped:", s.results["skipped"], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
