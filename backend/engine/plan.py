"""The launch decision, made once: which model, which device, which vLLM command.

`make_plan(config)` probes the model hub and the GPU, sizes the launch, builds the
command and checks every flag against the installed vLLM's own parser (`flags`),
leaving out what this engine lacks. ``python -m backend.engine env`` saves the plan in
the run directory and prints its path (LAUNCH_PLAN); ``serve --plan PATH`` starts
exactly that plan instead of deciding again. A saved plan belongs to one configuration:
`load_plan` refuses a plan made for other settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backend.config import Config
from backend.engine.flags import Dropped, drop_unknown, known_options
from backend.engine.launcher import (
    ModelChoice,
    api_server_count,
    build_command,
    command_head,
    has_nvidia_gpu,
    resolve_model,
    sizing,
)
from backend.engine.profiles import Device


@dataclass(frozen=True)
class LaunchPlan:
    choice: ModelChoice
    device: Device
    command: tuple[str, ...]
    sizing: dict[str, Any] = field(default_factory=dict)  # shown to users, in engine.json
    dropped: tuple[Dropped, ...] = ()  # flags this vLLM lacks, left out
    flags_checked: bool = False  # False: the engine's parser could not be asked
    config_digest: str = ""

    @property
    def unavailable(self) -> list[str]:
        """Chat features this engine cannot serve (named in the chat)."""
        return [d.feature for d in self.dropped if d.feature]

    def summary(self) -> str:
        plan = self.sizing
        return str(
            plan.get("summary")
            or (
                f"CPU: --max-model-len {plan['max_model_len']}, "
                f"{plan['kv_cache_tokens']:,} KV-cache tokens = {plan['max_concurrency']:g} "
                "full-length requests at once"
            )
        )


def config_digest(config: Config) -> str:
    # start.sh exports the plan's SERVED_MODEL_NAME (for the chat) between env and serve.
    settings = config.model_dump_json(exclude={"served_model_name"})
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def make_plan(config: Config) -> LaunchPlan:
    choice = resolve_model(config)
    device: Device = "cuda" if has_nvidia_gpu() else "cpu"
    sizing_flags, shown = sizing(config, choice, device)
    api_servers = api_server_count(config, device)
    shown = {**shown, "api_servers": api_servers}
    command = build_command(config, choice, device, sizing_flags, api_servers)
    known = known_options(config.engine_python, Path(config.run_dir) / "engine-flags.json")
    dropped: list[Dropped] = []
    if known is not None:
        command, dropped = drop_unknown(command, known, start=command_head(command))
    return LaunchPlan(
        choice,
        device,
        tuple(command),
        shown,
        tuple(dropped),
        known is not None,
        config_digest(config),
    )


def plan_path(config: Config) -> Path:
    return Path(config.run_dir) / "launch.json"


def save_plan(config: Config, plan: LaunchPlan) -> Path:
    path = plan_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(plan)))
    return path


def load_plan(config: Config, path: Path) -> LaunchPlan:
    """The plan saved at ``path``; ValueError when it is unreadable or for other settings."""
    try:
        data = json.loads(path.read_text())
        plan = LaunchPlan(
            choice=ModelChoice(**data["choice"]),
            device=data["device"],
            command=tuple(data["command"]),
            sizing=data["sizing"],
            dropped=tuple(Dropped(**d) for d in data["dropped"]),
            flags_checked=data["flags_checked"],
            config_digest=data["config_digest"],
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read the launch plan {path}: {exc}") from None
    served = config.served_model_name
    if plan.config_digest != config_digest(config) or served not in ("", plan.choice.served_name):
        raise ValueError(f"the launch plan {path} was made for other settings")
    return plan
