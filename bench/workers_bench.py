"""One chat worker vs several behind nginx, through start.sh, against the scripted server.

For each CHAT_WORKERS value it starts ``bench.scripted_server`` (2,500 tokens/s per stream,
1,000 tokens per answer), then ``./start.sh`` with that many workers (it sees the server
answering and starts only the chat), runs ``python -m backend.loadtest --compare --target
app`` at the given levels, reads the CPU seconds of every chat process (start.sh's chainlit
children, from /proc) around it, and stops everything. Results: one JSON per setting.

    nice .venv/bin/python -m bench.workers_bench --workers 1,2 --concurrency 16,64 \
        --json bench/results/workers.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from backend.engine.process import free_port, stop_group
from bench.proc_cpu import cpu_s
from tests.support.start_sh import StartSh

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def chat_pids(root_pid: int) -> list[int]:
    """Every ``chainlit run`` process below ``root_pid`` (start.sh)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,args="], capture_output=True, text=True)
    pids = [int(line.split()[0]) for line in out.stdout.splitlines() if "chainlit run" in line]
    return [p for p in pids if _descends(p, root_pid)]


def _descends(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        pid = int(stat[1])
    return False


def run_setting(workers: int, server_url: str, levels: str, out_dir: Path) -> dict:
    port = free_port()
    run_dir = tempfile.mkdtemp(prefix=f"workers-{workers}-")
    env = {"CHAT_WORKERS": str(workers), "VLLM_BASE_URL": server_url, "PORT": str(port),
           "RUN_DIR": run_dir, "DATA_DIR": run_dir, "DATABASE_URL": ""}  # fmt: skip
    start = StartSh(env, f"bench-workers-{workers}.log")
    try:
        deadline = time.monotonic() + 180
        while start.status() is None:
            if start.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the chat did not start:\n{start.log()[-2000:]}")
            time.sleep(0.5)
        pids = chat_pids(start.process.pid)
        before = sum(cpu_s(p) for p in pids)
        json_path = out_dir / f"workers-{workers}.json"
        command = [PYTHON, "-m", "backend.loadtest", "--compare", "--target", "app",
                   "--base-url", server_url, "--app-url", start.chat_url,
                   "--concurrency", levels, "--input-len", "32", "--warmup", "4",
                   "--num-requests", "128", "--json", str(json_path)]  # fmt: skip
        subprocess.run(command, check=True)
        chat_cpu_s = sum(cpu_s(p) for p in pids) - before
    finally:
        start.interrupt(timeout_s=30)
    return {"workers": workers, "chat_pids": len(pids), "chat_cpu_s": round(chat_cpu_s, 2),
            "loadtest": json.loads(json_path.read_text())}  # fmt: skip


def _wait_for(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} does not answer")
        time.sleep(0.2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default="1,2")
    p.add_argument("--concurrency", default="16,64")
    p.add_argument("--json", dest="json_path", default="bench/results/workers.json")
    args = p.parse_args()
    server_port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "bench.scripted_server", "--port", str(server_port)],
        start_new_session=True,
    )
    results = []
    try:
        url = f"http://127.0.0.1:{server_port}/v1"
        _wait_for(f"{url}/models")  # else start.sh would launch a vLLM of its own
        with tempfile.TemporaryDirectory() as tmp:
            for workers in (int(w) for w in args.workers.split(",")):
                results.append(run_setting(workers, url, args.concurrency, Path(tmp)))
    finally:
        stop_group(server, grace_s=10)
    Path(args.json_path).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
