"""What the chat front end costs: the same workload direct to the model server and through
Chainlit, at several concurrency levels, with the stream flush interval off and on.

For each server (``fast``: bench/scripted_server.py at 2,500 tokens/s per stream; ``vllm``:
the CPU build serving the demo model) and each ``STREAM_FLUSH_MS`` (0 = one socket event per
token, and the default 50), it starts ``chainlit run app.py`` against that server, then runs
every level direct and then through the app with the load tester's own machinery
(``backend.loadtest``), reading the Chainlit process's CPU time from ``/proc`` around each
app level. The direct requests are the ones the app sends (the product's sampling settings,
no ``max_tokens``, no ``ignore_eos``; the app keeps its own settings: ``--app-keep-settings``)
and both sides count output tokens by the server's usage (the app's from the chat's stats
line), so both sides measure the same thing.

    .venv/bin/python -m bench.relay_bench --servers fast,vllm --flush-ms 0,50 \
        --concurrency 1,16,64 --json bench/results/relay.json

``--persistence off,on`` runs each setting with saved conversations off (SAVE_HISTORY=off)
and on (a fresh SQLite database in a temporary DATA_DIR), to measure what saving costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from backend.chat.settings import SettingsState
from backend.engine.process import free_port, stop_group
from backend.loadtest import cli, report
from backend.loadtest.direct import DirectTarget, make_client
from backend.loadtest.targets import TargetSpec, open_target
from backend.loadtest.tokenizer import api_url_of
from backend.loadtest.workload import RequestSpec
from bench.proc_cpu import cpu_s, loop_cpu_s, tree_cpu_s
from tests.support.chat_app import ChatApp

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"


def wait_http(url: str, proc: subprocess.Popen | None, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)  # polling a starting server, bounded by the deadline
    raise TimeoutError(f"{url} not up within {limit_s} s")


@contextlib.contextmanager
def scripted_server(extra: list[str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    cmd = [str(PYTHON), "-m", "bench.scripted_server", "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc, 30)
        yield f"http://127.0.0.1:{port}/v1", proc.pid
    finally:
        stop_group(proc)


@contextlib.contextmanager
def vllm_server() -> Iterator[tuple[str, int]]:
    from tests.support.engine import engine_config, start_engine

    config = engine_config(free_port(), vllm_api_key="")
    engine = start_engine(config, "relay-bench-vllm.log")
    try:
        yield config.vllm_base_url, engine.process.pid
    finally:
        engine.stop()


@contextlib.contextmanager
def chat_app(
    base_url: str, flush_ms: float, persistence: str = "on", extra: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """The chat front end against ``base_url`` (``extra``: more settings): (its URL, its pid)."""
    with tempfile.TemporaryDirectory() as run_dir:
        env = {
            "VLLM_BASE_URL": base_url,
            "VLLM_API_KEY": "",
            "RUN_DIR": run_dir,
            "DATA_DIR": run_dir,
            "DATABASE_URL": "",
            "SAVE_HISTORY": persistence,
            "STREAM_FLUSH_MS": f"{flush_ms:g}",
            **(extra or {}),
        }
        with ChatApp(free_port(), env, Path(run_dir) / "chat.log") as app:
            assert app.process is not None
            yield app.url, app.process.pid


class AppLikeDirect(DirectTarget):
    """The request the app sends (its sampling defaults, no max_tokens, no ignore_eos); its
    output tokens are the server's usage, as the app target reads them from the chat."""

    def __init__(self, client: Any, model: str):
        super().__init__(client, model, "chat")

    async def _open(self, spec: RequestSpec) -> Any:
        params = SettingsState().for_message(spec.thinking).request_params(thinking=spec.thinking)
        return await self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": spec.prompt}],
            stream=True,
            stream_options={"include_usage": True},
            **params,
        )


class BenchRunner(cli.Runner):
    def __init__(self, *args: Any):
        super().__init__(*args)
        self.opener = self.open

    def open(self, target: TargetSpec) -> Any:
        return open_target(target) if target.name == "app" else self._app_like(target)

    @asynccontextmanager
    async def _app_like(self, target: TargetSpec) -> AsyncIterator[AppLikeDirect]:
        a = self.args
        client = make_client(api_url_of(a.base_url), a.api_key, target.pool, a.timeout)
        try:
            yield AppLikeDirect(client, self.model or "")
        finally:
            await client.close()


def cpu_readings(app_pid: int, server_pid: int) -> tuple[float, float, float, float]:
    """CPU seconds so far: the chat, its event loop, the model server's tree, this process."""
    return cpu_s(app_pid), loop_cpu_s(app_pid), tree_cpu_s(server_pid), time.process_time()


async def run_levels(
    args: argparse.Namespace,
    app_pid: int,
    server_pid: int,
    flush_ms: float,
    server: str,
    persistence: str = "on",
) -> list[dict[str, Any]]:
    model = await cli.resolve_model(args)
    rows: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=30.0) as http:
        runner = BenchRunner(args, model, http)
        for i, concurrency in enumerate(args.concurrency):
            level = cli.LevelSpec(concurrency, None)
            pair = []
            for j, target in enumerate(("direct", "app")):
                before, wall = cpu_readings(app_pid, server_pid), time.perf_counter()
                row = await runner.level(level, target, args.seed + 7919 * i + 104729 * j)
                wall = time.perf_counter() - wall  # warmup included, as in the CPU times
                after = cpu_readings(app_pid, server_pid)
                app_s, loop_s, server_s, loadgen_s = (
                    b - a for a, b in zip(before, after, strict=True)
                )
                answers = max(row["success"] + args.warmup, 1)
                row["cpu"] = {  # warmup answers included on both sides of the division
                    "app_s": app_s,
                    "app_s_per_answer": app_s / answers,
                    # the event loop's share, and the other threads' (the database writer)
                    "app_loop_s_per_answer": loop_s / answers,
                    "app_threads_s_per_answer": (app_s - loop_s) / answers,
                    "app_core_pct": 100 * app_s / wall,
                    "server_core_pct": 100 * server_s / wall,
                    "loadgen_core_pct": 100 * loadgen_s / wall,
                }
                row["server_kind"], row["flush_ms"] = server, flush_ms
                row["persistence"] = persistence
                row["turns"] = args.app_turns
                pair.append(row)
            pair[1]["comparison"] = report.compare(pair[0], pair[1])
            rows += pair
            _say(pair[1])
    return rows


def _say(row: dict[str, Any]) -> None:
    c, cpu = row["comparison"], row["cpu"]
    print(
        f"{row['server_kind']:5} flush={row['flush_ms']:g} "
        f"saving={row.get('persistence', 'on')} c={row['concurrency']:<3} "
        f"+TTFT p50 {c['added_ttft_p50_ms']:+.1f} p99 {c['added_ttft_p99_ms']:+.1f} ms  "
        f"tok/s ratio {c['output_tok_s_ratio']:.3f}  events/answer "
        f"{c['socket_events_per_answer']:.0f}  app CPU {cpu['app_s_per_answer'] * 1000:.1f} "
        f"ms/answer ({cpu['app_core_pct']:.0f}% core; other threads "
        f"{cpu.get('app_threads_s_per_answer', 0) * 1000:.2f})",
        flush=True,
    )


def level_args(base_url: str, server: str, ns: argparse.Namespace, app_url: str) -> Any:
    out_len = "1000" if server == "fast" else "64"
    argv = ["--base-url", base_url, "--app-url", app_url, "--endpoint", "chat",
            "--concurrency", ns.concurrency, "--input-len", str(ns.input_len),
            "--output-len", out_len,
            "--think-ratio", "0.5", "--warmup", "2", "--timeout", "300",
            "--metrics-interval", "5", "--app-keep-settings",
            "--app-turns", str(ns.turns)]  # fmt: skip
    args = cli.parse_args(argv)
    args.requests_per_user = ns.requests_per_user
    return args


async def bench_server(server: str, ns: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    starter = scripted_server(ns.fast_server_args.split()) if server == "fast" else vllm_server()
    with starter as (base_url, server_pid):
        for flush_ms in ns.flush_ms:
            for saving in ns.persistence:
                with chat_app(base_url, flush_ms, saving) as (app_url, app_pid):
                    args = level_args(base_url, server, ns, app_url)
                    for c in args.concurrency:
                        args.num_requests = max(8, ns.requests_per_user * c)
                        one = argparse.Namespace(**{**vars(args), "concurrency": [c]})
                        one.seed = 1000 * c + int(flush_ms)  # fresh prompts: no prefix-cache hits
                        rows += await run_levels(one, app_pid, server_pid, flush_ms, server, saving)
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """One line per server × flush × concurrency, from the app rows and their direct pair."""
    head = (
        "| server | flush ms | saving | C | +TTFT p50 / p99 ms | direct tok/s | app tok/s "
        "| app/direct | events/answer | front-end CPU ms/answer | front-end % core "
        "| load gen % core |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for direct, app in zip(rows[::2], rows[1::2], strict=True):
        c, cpu = app["comparison"], app["cpu"]
        lines.append(
            f"| {app['server_kind']} | {app['flush_ms']:g} | {app.get('persistence', 'on')} "
            f"| {app['concurrency']} "
            f"| {c['added_ttft_p50_ms']:+.1f} / {c['added_ttft_p99_ms']:+.1f} "
            f"| {direct['output_tok_s']:.0f} | {app['output_tok_s']:.0f} "
            f"| {100 * c['output_tok_s_ratio']:.1f}% | {c['socket_events_per_answer']:.0f} "
            f"| {1000 * cpu['app_s_per_answer']:.1f} | {cpu['app_core_pct']:.0f}% "
            f"| {direct['cpu']['loadgen_core_pct']:.0f}% / {cpu['loadgen_core_pct']:.0f}% |"
        )
    return head + "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.relay_bench", description=__doc__)
    p.add_argument("--table", nargs="+", metavar="JSON", help="only print results as markdown")
    p.add_argument("--servers", default="fast,vllm")
    p.add_argument("--flush-ms", default="0,50")
    p.add_argument("--concurrency", default="1,16,64")
    p.add_argument("--requests-per-user", type=int, default=2, help="per level: max(8, n·C)")
    p.add_argument(
        "--fast-server-args",
        default="--token-interval-ms 0.4 --tokens-per-chunk 4 --first-token-ms 20",
    )
    p.add_argument("--input-len", type=int, default=32, help="prompt tokens per request")
    p.add_argument(
        "--turns", type=int, default=1, help="answers per chat session (1: a new tab each)"
    )
    p.add_argument("--persistence", default="on", help="on, off, or off,on to compare")
    p.add_argument("--json", dest="json_path", default="bench/results/relay.json")
    ns = p.parse_args(argv)
    ns.flush_ms = [float(x) for x in ns.flush_ms.split(",")]
    ns.persistence = ns.persistence.split(",")
    return ns


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns.table:
        print(markdown_table([r for path in ns.table for r in json.loads(Path(path).read_text())]))
        return 0
    rows: list[dict[str, Any]] = []
    for server in ns.servers.split(","):
        rows += asyncio.run(bench_server(server, ns))
        Path(ns.json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json_path).write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["success"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
