"""Start and stop the real vLLM (CPU build) with the demo model, as start.sh does."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
import pytest

from backend.config import ROOT, Config
from backend.engine.launcher import build_command, engine_env, resolve_model, sizing
from backend.engine.process import Engine

ARTIFACTS = ROOT / "artifacts"
ENGINE_START_LIMIT_S = 600


@dataclass(frozen=True)
class RunningEngine:
    config: Config
    engine: Engine

    @property
    def base_url(self) -> str:
        return self.config.vllm_base_url

    def metrics(self) -> str:
        response = httpx.get(f"{self.config.server_root}/metrics", timeout=5)
        response.raise_for_status()
        return response.text


def engine_config(port: int, **overrides) -> Config:
    values = dict(
        model="demo",
        vllm_base_url=f"http://127.0.0.1:{port}/v1",
        vllm_api_key=secrets.token_urlsafe(16),
        cpu_kvcache_space_gib=1.0,
        max_retries=0,
        stream_timeout_s=60,
    )
    values.update(overrides)
    return Config(**values)


def start_engine(config: Config, log_name: str) -> Engine:
    choice = resolve_model(config)
    flags, _ = sizing(config, choice, "cpu")
    cmd = build_command(config, choice, "cpu", flags)
    engine = Engine(config, cmd, engine_env(config, "cpu"), ARTIFACTS / log_name)
    engine.start()
    if not engine.wait_ready(ENGINE_START_LIMIT_S):
        tail = engine.log_tail(40)
        engine.stop()
        pytest.fail(f"vLLM did not become ready:\n{tail}")
    return engine
