"""The launcher's status file: how the UI learns that the model is still loading.

The launcher writes ``$RUN_DIR/engine.json`` (default ``.run/``) as it goes (starting →
loading → ready, or failed / stopped); the chat reads it to say "the model is still
loading" instead of failing, to show the launch plan and to say which features the
installed vLLM lacks. The file records the base URL it serves and the launcher's pid:
`read_status` ignores a file written for another URL or by a launcher that is gone, so
the chat describes the server actually answering. No (current) file: a server started
elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.config import Config

State = Literal["starting", "loading", "ready", "failed", "stopped"]


@dataclass(frozen=True)
class EngineStatus:
    state: State
    detail: str = ""
    model: str = ""
    served_model_name: str = ""
    demo: bool = False
    pid: int | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""  # the VLLM_BASE_URL this engine serves
    launcher_pid: int | None = None  # the process that writes this file
    unavailable: list[str] = field(default_factory=list)  # features this vLLM lacks


def status_path(config: Config) -> Path:
    return Path(config.run_dir) / "engine.json"


def write_status(config: Config, status: EngineStatus) -> None:
    path = status_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, path)  # readers never see half a file


def read_status(config: Config) -> EngineStatus | None:
    """The launcher's status, or None when there is none for the server at VLLM_BASE_URL."""
    try:
        data = json.loads(status_path(config).read_text())
        status = EngineStatus(**data)
    except (OSError, ValueError, TypeError):
        return None
    if status.base_url and status.base_url != config.vllm_base_url:
        return None  # written for another server
    if status.launcher_pid is not None and not _running(status.launcher_pid):
        return None  # left by an earlier start
    return status


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
