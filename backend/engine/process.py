"""A process in its own process group: start it, watch it, stop it with its children.

`stop_group(process)` is the one way this project stops a server it started (vLLM with
its engine-core workers, the chat, a benchmark's helpers): SIGTERM to the whole group,
SIGKILL after ``grace_s``, then SIGKILL again for workers that outlived the leader.
`Engine` is a running vLLM: ``start()``, ``wait_ready()``, ``stop()``; also a context
manager.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from backend.config import ROOT, Config


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_group(
    process: subprocess.Popen[Any],
    grace_s: float = 20.0,
    sig: int = signal.SIGTERM,
    gone_within_s: float = 10.0,
) -> None:
    """Stop ``process`` (started with ``start_new_session=True``) and its whole group.

    ``sig`` to the group, SIGKILL when the leader outlives ``grace_s``, SIGKILL for
    members that outlived the leader; returns once the group is gone (a GPU's memory is
    free again) or ``gone_within_s`` has passed.
    """
    pgid = process.pid
    if process.poll() is None:
        try:
            os.killpg(pgid, sig)
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + gone_within_s
    try:
        os.killpg(pgid, signal.SIGKILL)  # workers that outlived the leader
        while time.monotonic() < deadline:
            time.sleep(0.1)  # until the kernel has reaped them, bounded
            os.killpg(pgid, 0)
    except ProcessLookupError:
        pass


class Engine:
    """A running vLLM: ``start()``, ``wait_ready()``, ``stop()``; also a context manager."""

    def __init__(self, config: Config, cmd: list[str], env: dict[str, str], log_path: Path):
        self.config = config
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            # Own process group: stop() reaches vLLM's engine-core workers too.
            self.process = subprocess.Popen(
                self.cmd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=ROOT,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"{self.config.server_root}/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def wait_ready(self, timeout_s: float, on_tick: Callable[[], None] | None = None) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.alive():
            if self.healthy():
                return True
            if on_tick is not None:
                on_tick()
            time.sleep(0.5)
        return False

    def stop(self, grace_s: float = 20.0) -> None:
        if self.process is not None:
            stop_group(self.process, grace_s)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
