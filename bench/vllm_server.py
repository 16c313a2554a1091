"""A vLLM server process for measurements, and what its start-up log and parser say.

- ``Server``: one process group (the API server and its engine core), polled on ``/health``
  with a deadline, stopped with every child so the next start finds the GPU free.
- ``check_flags``: each flag, with its value, through the installed vLLM's own argument
  parser (the machine may run an older vLLM than the one the profiles were written for;
  built by the launcher's own snippet, `backend.engine.flags.PARSER_SNIPPET`).
- ``parse_startup``: the numbers the planner predicts (weights, KV cache GiB and tokens,
  concurrency, CUDA graphs) and the lines they came from.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx

from backend.engine.flags import PARSER_SNIPPET
from backend.engine.process import stop_group


def flag_pairs(flags: list[str]) -> list[tuple[str, str | None]]:
    """``["--a", "1", "--b"]`` -> ``[("--a", "1"), ("--b", None)]``."""
    pairs: list[tuple[str, str | None]] = []
    for token in flags:
        if token.startswith("--"):
            pairs.append((token, None))
        else:
            pairs[-1] = (pairs[-1][0], token)
    return pairs


def flag_key(pair: tuple[str, str | None]) -> str:
    return pair[0] + ("=" + pair[1] if pair[1] else "")


CHECK_FLAGS = (
    PARSER_SNIPPET
    + """
import json, sys
out = {}
for flag, value in json.loads(sys.argv[1]):
    argv = ["--model", "m", flag] + ([value] if value is not None else [])
    key = flag + ("=" + value if value else "")
    try:
        new_parser().parse_args(argv)
        out[key] = "ok"
    except SystemExit:
        out[key] = "rejected"
print("FLAGS " + json.dumps(out))
"""
)


# ``vllm bench serve`` without the console script (which needs vLLM's distribution metadata)
BENCH_SERVE = """
import importlib, sys
for name in ("vllm.utils.argparse_utils", "vllm.utils"):
    try:
        Parser = importlib.import_module(name).FlexibleArgumentParser
        break
    except (ImportError, AttributeError):
        pass
from vllm.benchmarks.serve import add_cli_args, main
parser = Parser()
add_cli_args(parser)
main(parser.parse_args(sys.argv[1:]))
"""


def check_flags(python: str, pairs: list[tuple[str, str | None]]) -> dict[str, str]:
    """Each flag (with its value) through the installed vLLM's own parser."""
    if not pairs:
        return {}
    proc = subprocess.run(
        [python, "-c", CHECK_FLAGS, json.dumps(sorted(set(pairs), key=str))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("FLAGS "):
            return json.loads(line[6:])
    raise RuntimeError(f"flag check failed: {proc.stderr[-2000:]}")


STARTUP_PATTERNS = {
    "model_loading_gib": r"Model loading took ([\d.]+) GiB",
    "available_kv_gib": r"Available KV cache memory: ([\d.]+) GiB",
    "kv_cache_tokens": r"KV cache size: ([\d,]+) tokens",
    "max_concurrency_x": r"Maximum concurrency for [\d,]+ tokens per request: ([\d.]+)x",
    "cuda_graph_gib": r"Graph capturing finished in \d+ secs, took ([\d.]+) GiB",
    # vLLM's "Actual usage" summary (0.2x): the planner's terms one by one
    "total_gib": r"Free memory on device \([\d.]+/([\d.]+) GiB\)",
    "actual_weights_gib": r"Actual usage is ([\d.]+) GiB for weight",
    "peak_activation_gib": r"([\d.]+) GiB for peak activation",
    "non_torch_gib": r"([\d.]+) GiB for non-torch memory",
    "cuda_graph_estimate_gib": r"([\d.]+) GiB for CUDAGraph memory",
    "kv_cache_bytes": r"--kv-cache-memory=(\d+)` \([\d.]+ GiB\) to fit into requested",
    "max_num_seqs": r"max_num_seqs=(\d+)",
    "max_num_batched_tokens": r"max_num_batched_tokens=(\d+)",
}
INT_FIELDS = {"kv_cache_tokens", "kv_cache_bytes", "max_num_seqs", "max_num_batched_tokens"}
STARTUP_KEYWORDS = (
    "Model loading took",
    "Available KV cache memory",
    "KV cache size",
    "Maximum concurrency",
    "Graph capturing",
    "non-default args",
    "init engine",
    "memory profiling",
    "Memory profiling",
    "async scheduling",
    "Chunked prefill",
    "max_num_batched_tokens",
    "Using FlashAttention",
    "Using Flash",
    "backend",
    "fp8",
    "Error",
    "error:",
    "Actual usage",
    "quantization",
    "Performance mode",
    "cutlass",
    "CUTLASS",
    "DeepGEMM",
    "Marlin",
)


def parse_startup(log: str) -> dict[str, Any]:
    """The start-up numbers the planner predicts, and the lines they came from."""
    found: dict[str, Any] = {}
    for name, pattern in STARTUP_PATTERNS.items():
        match = re.search(pattern, log)
        if match:
            value = match.group(1).replace(",", "")
            found[name] = int(value) if name in INT_FIELDS else float(value)
    lines = [ln for ln in log.splitlines() if any(k in ln for k in STARTUP_KEYWORDS)]
    found["lines"] = [ln[-400:] for ln in lines[:60]]
    return found


class Server:
    """One vLLM process group: started, polled until healthy, stopped with all its children."""

    def __init__(self, cmd: list[str], log_path: Path, port: int):
        self.cmd, self.log_path, self.port = cmd, log_path, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, HF_HUB_OFFLINE="1", VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                self.cmd, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=os.setpgrp
            )

    def wait_ready(self, timeout_s: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return time.monotonic() - start
            except OSError:
                time.sleep(1.0)  # polling the health endpoint, bounded by the deadline
        raise TimeoutError(f"server not healthy after {timeout_s:.0f} s")

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the group, keyed ``name[pid]`` (the
        name vLLM gives it: ``VLLM::EngineCore``, an API server's title, or the command)."""
        return group_cpu_s(os.getpgid(self.proc.pid)) if self.proc else {}

    def stop(self) -> None:
        if self.proc:  # SIGINT: vLLM's clean shutdown; until its GPU memory is free again
            stop_group(self.proc, grace_s=30.0, sig=signal.SIGINT, gone_within_s=30.0)


def group_cpu_s(pgid: int) -> dict[str, float]:
    """User + system CPU seconds of every live process in process group ``pgid`` (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) != pgid:  # fields[0] is the state; [2] the process group
            continue
        title = cmdline[0].decode(errors="replace").rsplit("/", 1)[-1] or "?"
        if title.startswith("python") and len(cmdline) > 2:
            title = " ".join(a.decode(errors="replace") for a in cmdline[1:3])
        title = " ".join(title.split())
        found[f"{title[:40]}[{stat.parent.name}]"] = (int(fields[11]) + int(fields[12])) / tick
    return found


def cpu_delta(before: dict[str, float], after: dict[str, float], wall_s: float):
    """Cores each process used between two ``group_cpu_s`` readings, busiest first."""
    used = {k: v - before.get(k, 0.0) for k, v in after.items()}
    ranked = sorted(used.items(), key=lambda kv: -kv[1])
    return {k: round(v / wall_s, 2) for k, v in ranked if v > 0.05 * wall_s} if wall_s > 0 else {}


def describe_device(python: str) -> dict[str, Any]:
    info: dict[str, Any] = {}
    for key, cmd in {
        "nvidia_smi": [
            "nvidia-smi",
            "--query-gpu=name,memory.total,driver_version",
            "--format=csv,noheader",
        ],
        "versions": [
            python,
            "-c",
            "import vllm, torch; print(vllm.__version__, torch.__version__,"
            " torch.cuda.mem_get_info()[1] if torch.cuda.is_available() else 0)",
        ],
    }.items():
        try:
            info[key] = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            info[key] = f"unavailable: {exc}"
    return info


def stream_probe(base_url: str, model: str, input_len: int, output_len: int) -> dict[str, Any]:
    """One completions stream read raw: when each SSE event came and whether it had text."""
    prompt = " ".join(f"word{i % 97}" for i in range(input_len))
    body = {"model": model, "prompt": prompt, "max_tokens": output_len, "stream": True,
            "temperature": 0.0, "ignore_eos": True}  # fmt: skip
    events = []
    start = time.perf_counter()
    with httpx.stream("POST", f"{base_url}/completions", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                data = json.loads(line[6:])
                text = data["choices"][0].get("text") if data.get("choices") else None
                events.append([round(1000 * (time.perf_counter() - start), 2), text])
    return {"events_ms_text": events}
