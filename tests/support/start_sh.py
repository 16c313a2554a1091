"""Run ./start.sh as a user would: its own process group, a log, Ctrl-C to stop.

`StartSh(env, log_name)` starts it with ``env`` over os.environ (VLLM_API_KEY dropped
unless ``env`` sets it: start.sh generates one for a vLLM it launches); `status()` reads
the chat's banner route; `interrupt()` sends SIGINT to the whole group and waits.
"""

from __future__ import annotations

import os
import signal
import subprocess

import httpx

from backend.config import ROOT
from backend.engine.process import stop_group
from tests.support.engine import ARTIFACTS


class StartSh:
    def __init__(self, env: dict[str, str], log_name: str):
        full = {**os.environ, **env}
        if "VLLM_API_KEY" not in env:
            full.pop("VLLM_API_KEY", None)
        self.chat_url = f"http://127.0.0.1:{full['PORT']}"
        self.log_path = ARTIFACTS / log_name
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [str(ROOT / "start.sh")],
                env=full,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def status(self) -> dict | None:
        """The chat's /hybrid-chat/status, or None while it does not answer."""
        try:
            response = httpx.get(f"{self.chat_url}/hybrid-chat/status", timeout=3)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def interrupt(self, timeout_s: float = 60) -> int:
        """Ctrl-C: SIGINT to start.sh's process group, then its exit status."""
        stop_group(self.process, grace_s=timeout_s, sig=signal.SIGINT)
        return self.process.wait()
