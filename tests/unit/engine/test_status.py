"""The status file describes the server at VLLM_BASE_URL only, and only while its
launcher runs: a file left by an earlier start, or by another server, is ignored."""

from __future__ import annotations

import os
import subprocess
import sys

from backend.config import Config
from backend.engine.status import EngineStatus, read_status, write_status


def _gone_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_status_of_this_server_and_a_live_launcher_is_read(tmp_path):
    config = Config(run_dir=str(tmp_path))
    status = EngineStatus(
        "ready", base_url=config.vllm_base_url, launcher_pid=os.getpid(), unavailable=["x"]
    )
    write_status(config, status)
    assert read_status(config) == status


def test_status_for_another_server_or_from_a_gone_launcher_is_ignored(tmp_path):
    config = Config(run_dir=str(tmp_path))
    plan = {"max_concurrency": 114.0}
    write_status(config, EngineStatus("ready", demo=True, plan=plan, base_url="http://x:1/v1"))
    assert read_status(config) is None
    stale = EngineStatus(
        "stopped", demo=True, plan=plan, base_url=config.vllm_base_url, launcher_pid=_gone_pid()
    )
    write_status(config, stale)
    assert read_status(config) is None
