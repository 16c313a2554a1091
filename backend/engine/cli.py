"""``python -m backend.engine.launcher``: start.sh's way to run vLLM, with progress on the terminal.

serve   start vLLM, show loading progress, wait until healthy, run until stopped
env     print the resolved choices as shell assignments (SERVED_MODEL_NAME, DEMO_MODEL)
command print the vLLM command line that ``serve`` would run
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from backend.config import Config, ConfigError
from backend.engine.launcher import Engine, engine_env, prepare
from backend.engine.status import EngineStatus, write_status

# Log lines that mark vLLM's start-up stages, in order, and what to tell the operator.
STAGES = (
    ("Starting vLLM", "starting the engine"),
    ("Loading weights", "loading weights"),
    ("Model loading took", "weights loaded; profiling memory"),
    ("KV cache", "allocating the KV cache"),
    ("Capturing CUDA graph", "capturing CUDA graphs"),
    ("Starting vLLM API server", "starting the API server"),
    ("Application startup complete", "almost ready"),
)

console = Console(stderr=True)


def _stage(log_text: str) -> str:
    current = "starting"
    for marker, label in STAGES:
        if marker in log_text:
            current = label
    return current


def serve(config: Config, timeout_s: float) -> int:
    choice, device, cmd, plan = prepare(config)
    if choice.demo:
        why = f" ({choice.reason})" if choice.reason else ""
        console.print(f"[bold yellow]Serving the bundled demo model — not Qwen3-4B{why}.[/]")
    summary = plan.get("summary") or (
        f"CPU: --max-model-len {plan['max_model_len']}, "
        f"{plan['kv_cache_tokens']:,} KV-cache tokens = {plan['max_concurrency']:g} "
        "full-length requests at once"
    )
    console.print(f"Launch plan: {summary}")
    if plan.get("notice"):
        console.print(f"[cyan]{plan['notice']}[/]")
    shown = [
        "***" if prev == "--api-key" else arg
        for prev, arg in zip(["", *cmd[:-1]], cmd, strict=True)
    ]
    console.print(f"vLLM: {shlex.join(shown)}", highlight=False, soft_wrap=True)
    log_path = Path(config.run_dir) / "vllm.log"
    engine = Engine(config, cmd, engine_env(config, device), log_path)
    status = EngineStatus(
        "starting",
        model=choice.path,
        served_model_name=choice.served_name,
        demo=choice.demo,
        plan=plan,
    )
    write_status(config, status)
    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    try:
        engine.start()
        status = replace(status, state="loading", pid=engine.process.pid)
        write_status(config, status)
        with console.status("vLLM: starting") as spinner:

            def tick():
                text = log_path.read_text(errors="replace") if log_path.exists() else ""
                elapsed = time.monotonic() - started
                spinner.update(f"vLLM: {_stage(text)} ({elapsed:.0f} s) — log: {log_path}")

            ready = engine.wait_ready(timeout_s, on_tick=tick)
        if not ready:
            detail = "vLLM exited during start-up" if not engine.alive() else "start-up timed out"
            write_status(config, replace(status, state="failed", detail=detail))
            console.print(f"[bold red]{detail}.[/] Last lines of {log_path}:\n{engine.log_tail()}")
            return 1
        write_status(config, replace(status, state="ready"))
        elapsed_s = time.monotonic() - started
        console.print(f"[green]vLLM ready in {elapsed_s:.0f} s[/] at {config.vllm_base_url}")
        while engine.alive():
            time.sleep(1.0)
        console.print(f"[bold red]vLLM exited unexpectedly.[/]\n{engine.log_tail()}")
        write_status(config, replace(status, state="failed", detail="vLLM exited"))
        return 1
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through _stop
        stopping = True
        return 0
    finally:
        engine.stop()
        if stopping:  # a failure keeps its "failed" state and detail for the chat to show
            write_status(config, replace(status, state="stopped"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.engine.launcher")
    parser.add_argument("action", choices=["serve", "env", "command"])
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="start-up limit")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 2
    if args.action == "serve":
        return serve(config, args.timeout_s)
    choice, device, cmd, plan = prepare(config)
    if args.action == "command":
        print(shlex.join(cmd))
        return 0
    print(f"SERVED_MODEL_NAME={shlex.quote(choice.served_name)}")
    print(f"DEMO_MODEL={'1' if choice.demo else '0'}")
    print(f"ENGINE_DEVICE={device}")
    if choice.reason:
        print(f"DEMO_REASON={shlex.quote(choice.reason)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
