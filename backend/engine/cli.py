"""``python -m backend.engine``: start.sh's way to run vLLM, with progress on the terminal.

serve    start vLLM, show loading progress, wait until healthy, run until stopped
         (``--plan PATH``: the plan ``env`` saved, instead of deciding again)
env      decide the launch once (`backend.engine.plan`), save it in the run directory and
         print shell assignments (SERVED_MODEL_NAME, DEMO_MODEL, ENGINE_DEVICE, LAUNCH_PLAN)
command  print the vLLM command line that ``serve`` would run
profiles print a launch profile's flags (default: VLLM_PROFILE)

``serve`` and ``env`` refuse (exit 1, saying what holds it) when vLLM's port is taken.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from rich.console import Console

from backend.config import Config, ConfigError
from backend.engine.launcher import CORES_PER_API_SERVER, MAX_API_SERVERS, engine_env
from backend.engine.plan import LaunchPlan, load_plan, make_plan, save_plan
from backend.engine.port import port_holder
from backend.engine.process import Engine
from backend.engine.profiles import get_profile, profile_args
from backend.engine.status import EngineStatus, api_key_path, write_api_key, write_status

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


def port_taken(config: Config) -> str | None:
    """Why vLLM cannot start on its port, or None when the port is free."""
    port = urlsplit(config.vllm_base_url).port or 8001
    holder = port_holder(port)
    if holder is None:
        return None
    return (
        f"vLLM's port {port} is already taken by {holder}, which does not answer as the "
        f"model server at VLLM_BASE_URL={config.vllm_base_url}. Stop it, or set VLLM_BASE_URL "
        "to a free port (or to that server, with its VLLM_API_KEY, to use it)."
    )


def show_plan(plan: LaunchPlan) -> None:
    choice, cmd = plan.choice, list(plan.command)
    if choice.demo:
        why = f" ({choice.reason})" if choice.reason else ""
        console.print(f"[bold yellow]Serving the bundled demo model — not Qwen3-4B{why}.[/]")
    for dropped in plan.dropped:
        console.print(f"[yellow]{dropped.notice()}[/]")
    if not plan.flags_checked:
        console.print("[yellow]Could not ask this vLLM for its flags; starting unchecked.[/]")
    console.print(f"Launch plan: {plan.summary()}")
    if plan.sizing.get("notice"):
        console.print(f"[cyan]{plan.sizing['notice']}[/]")
    if plan.device == "cuda":
        servers = plan.sizing.get("api_servers", 1)
        console.print(
            f"vLLM front end: {servers} API-server process{'es' if servers > 1 else ''} "
            f"(one per {CORES_PER_API_SERVER} CPU cores, at most {MAX_API_SERVERS}; "
            "VLLM_API_SERVERS sets it)."
        )
    shown = ["--api-key=***" if arg.startswith("--api-key=") else arg for arg in cmd]
    console.print(f"vLLM: {shlex.join(shown)}", highlight=False, soft_wrap=True)


def serve(config: Config, timeout_s: float, plan_file: Path | None = None) -> int:
    if (taken := port_taken(config)) is not None:
        console.print(f"[bold red]{taken}[/]")
        return 1
    try:
        plan = load_plan(config, plan_file) if plan_file else make_plan(config)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 2
    show_plan(plan)
    choice, cmd = plan.choice, list(plan.command)
    log_path = Path(config.run_dir) / "vllm.log"
    env = engine_env(config, plan.device, plan.sizing.get("weights"))
    if plan.sizing.get("weights") == "fp8-block" and env.get("VLLM_USE_DEEP_GEMM") == "0":
        console.print(
            "[cyan]Block-FP8 weights: DeepGEMM off (its kernel warm-up takes minutes at "
            "start); VLLM_USE_DEEP_GEMM=1 turns it on.[/]"
        )
    engine = Engine(config, cmd, env, log_path)
    status = EngineStatus(
        "starting",
        model=choice.path,
        served_model_name=choice.served_name,
        demo=choice.demo,
        plan=plan.sizing,
        base_url=config.vllm_base_url,
        launcher_pid=os.getpid(),
        unavailable=plan.unavailable,
    )
    write_status(config, status)
    write_api_key(config)  # monitoring reads the key from the run dir (start.sh generates it)
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    try:
        engine.start()
        assert engine.process is not None
        status = replace(status, state="loading", pid=engine.process.pid)
        write_status(config, status)
        with console.status("vLLM: starting") as spinner:

            def tick() -> None:
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
        api_key_path(config).unlink(missing_ok=True)
        if stopping:  # a failure keeps its "failed" state and detail for the chat to show
            write_status(config, replace(status, state="stopped"))


def env(config: Config) -> int:
    """Decide the launch once, save it, print what start.sh needs as shell assignments."""
    if (taken := port_taken(config)) is not None:
        console.print(f"[bold red]{taken}[/]")
        return 1
    plan = make_plan(config)
    path = save_plan(config, plan)
    print(f"SERVED_MODEL_NAME={shlex.quote(plan.choice.served_name)}")
    print(f"DEMO_MODEL={'1' if plan.choice.demo else '0'}")
    print(f"ENGINE_DEVICE={plan.device}")
    print(f"LAUNCH_PLAN={shlex.quote(str(path))}")
    if plan.choice.reason:
        print(f"DEMO_REASON={shlex.quote(plan.choice.reason)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.engine")
    parser.add_argument("action", choices=["serve", "env", "command", "profiles"])
    parser.add_argument("name", nargs="?", help="profiles: the profile (default: VLLM_PROFILE)")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="start-up limit")
    parser.add_argument("--plan", type=Path, help="serve: the plan `env` saved")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="profiles")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 2
    if args.action == "profiles":
        try:
            profile = get_profile(args.name or config.profile)
        except ValueError as exc:
            parser.exit(2, f"profiles: {exc}\n")
        print(shlex.join(profile_args(profile, device=args.device)))
        return 0
    if args.action == "serve":
        return serve(config, args.timeout_s, args.plan)
    if args.action == "env":
        return env(config)
    print(shlex.join(make_plan(config).command))
    return 0
