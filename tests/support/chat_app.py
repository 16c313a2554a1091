"""The chat's front end as a process: ``chainlit run app.py --headless`` on a given port.

`ChatApp` runs it with a given environment in its own process group, waits until it
answers, and stops the whole group with it (also as a context manager).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from backend.config import ROOT
from backend.engine.process import stop_group

CHAINLIT = ROOT / ".venv" / "bin" / "chainlit"
APP_START_LIMIT_S = 120.0


class ChatApp:
    """The Chainlit front end on ``port``; ``env`` is added to (and wins over) os.environ."""

    def __init__(self, port: int, env: dict[str, str], log_path: Path):
        self.port = port
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChatApp:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [str(CHAINLIT), "run", "app.py", "--headless", "--host", "127.0.0.1"]
                + ["--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + APP_START_LIMIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chainlit exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/auth/config", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"chainlit did not answer within {APP_START_LIMIT_S:g} s")

    def rss_kib(self) -> int:
        """Resident memory of the front end's process, from /proc."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, grace_s=15)

    def __enter__(self) -> ChatApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
