"""The launcher's status file: how the UI learns that the model is still loading.

The launcher writes ``.run/engine.json`` as it goes (starting → loading → ready, or
failed / stopped); the chat reads it to say "the model is still loading" instead of
failing, and to show the launch plan. Missing file = a server the product did not start.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from backend.config import ROOT

STATUS_PATH = ROOT / ".run" / "engine.json"
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


def write_status(status: EngineStatus, path: Path = STATUS_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, path)  # readers never see half a file


def read_status(path: Path = STATUS_PATH) -> EngineStatus | None:
    try:
        data = json.loads(path.read_text())
        return EngineStatus(**data)
    except (OSError, ValueError, TypeError):
        return None
