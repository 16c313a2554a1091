"""The relay on a GPU: the running product (start.sh) measured direct and through the chat.

Against a product already started by ``./start.sh`` (vLLM on :8001, the chat on :8000), each
level runs ``python -m backend.loadtest --compare`` (the same workload straight to vLLM, then
through Chainlit's socket) as its own process, and reads the chat process's CPU seconds from
``/proc`` before and after (summed over the workers when CHAT_WORKERS > 1), so each row carries
the front end's CPU per answer. With
``--profile-level N`` the chat process (and the load tester) are sampled by py-spy during the
first run of that level, as collapsed stacks, to find where a stalled answer waits.

    python -m bench.gpu_relay --levels 1:4,16:32,64:128,256:512 --runs 2 --out "$OUT"
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.proc_cpu import cpu_s


def find_pids(*needles: str) -> list[int]:
    """Every process whose command line holds every needle (ours excluded), oldest first."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = entry.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        pid = int(entry.parent.name)
        if pid != os.getpid() and all(n in cmd for n in needles):
            found.append(pid)
    return sorted(found)


def chat_cpu_s(pids: list[int]) -> float:
    """CPU seconds of every chat process: one, or each worker of CHAT_WORKERS."""
    return sum(cpu_s(pid) for pid in pids)


def loadtest_cmd(a: argparse.Namespace, streams: int, requests: int, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "backend.loadtest", "--compare",
        "--concurrency", str(streams), "--num-requests", str(requests),
        "--warmup", str(min(streams, requests)), "--input-len", str(a.input_len),
        "--output-len", str(a.output_len), "--think-ratio", str(a.think_ratio),
        "--processes", str(max(1, min(a.max_processes, math.ceil(streams / 16)))),
        "--json", str(out), *a.extra,
    ]  # fmt: skip


def py_spy(pid: int, seconds: float, out: Path) -> subprocess.Popen | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100"]
    cmd += ["--format", "raw", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def run_level(a: argparse.Namespace, chat_pids: list[int], streams: int, requests: int, run: int):
    name = f"relay-c{streams}-r{run}"
    out, log = a.work / f"{name}.json", a.work / f"{name}.log"
    cpu_before, started = chat_cpu_s(chat_pids), time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.Popen(loadtest_cmd(a, streams, requests, out), stdout=f, stderr=f)
        spies = []
        if streams == a.profile_level and run == 1:
            for pid, who in ((chat_pids[0], "chat"), (proc.pid, "client")):
                spy = py_spy(pid, a.profile_s, a.out / f"pyspy-{who}-c{streams}.txt")
                spies += [spy] if spy else []
        try:
            rc = proc.wait(timeout=max(a.deadline - time.monotonic(), 5))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        for spy in spies:
            spy.wait(timeout=a.profile_s + 30)
    rows = json.loads(out.read_text()) if out.exists() else []
    app = [r for r in rows if isinstance(r, dict) and r.get("target") == "app"]
    answers = sum(r.get("success", 0) for r in app)
    chat_cpu = chat_cpu_s(chat_pids) - cpu_before
    return {
        "streams": streams,
        "requests": requests,
        "run": run,
        "rc": rc,
        "wall_s": round(time.monotonic() - started, 1),
        "chat_cpu_s": round(chat_cpu, 2),
        "chat_cpu_ms_per_answer": round(1000 * chat_cpu / answers, 1) if answers else None,
        "rows": rows,
        "log_tail": log.read_text()[-2000:],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gpu_relay", description=__doc__)
    p.add_argument("--levels", default="1:4,16:32,64:128,256:512", help="streams:requests,...")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--input-len", type=int, default=512)
    p.add_argument("--output-len", type=int, default=256)
    p.add_argument("--think-ratio", type=float, default=0.5)
    p.add_argument("--max-processes", type=int, default=8, help="client processes, 1 per 16")
    p.add_argument("--profile-level", type=int, default=16)
    p.add_argument("--profile-s", type=float, default=20.0)
    p.add_argument("--deadline-s", type=float, default=400.0)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, default=Path("/tmp/relay-work"))
    p.add_argument("extra", nargs="*", help="more load tester flags, after --")
    a = p.parse_args(argv)
    a.deadline = time.monotonic() + a.deadline_s
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    chat_pids = find_pids("chainlit", "run")
    if not chat_pids:
        p.error("no running chat (chainlit run ...) found: start ./start.sh first")
    results: dict[str, Any] = {"chat_pids": chat_pids, "levels": [], "skipped": []}
    for run in range(1, a.runs + 1):
        for item in a.levels.split(","):
            streams, requests = (int(x) for x in item.split(":"))
            if a.deadline - time.monotonic() < 30:
                results["skipped"].append(f"{item} run {run}")
                continue
            results["levels"].append(run_level(a, chat_pids, streams, requests, run))
            last = results["levels"][-1]
            print(f"c={streams} run {run}: rc={last['rc']} {last['wall_s']} s", flush=True)
            (a.out / "relay.json").write_text(json.dumps(results, indent=1))
    (a.out / "relay.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
