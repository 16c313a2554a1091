"""Shared fixtures: the real vLLM (CPU build) serving the demo model, started once.

Real-server and browser tests share one engine per test session (it takes about a
minute to start on two cores). It is launched exactly as start.sh launches it, through
backend.engine, and stopped at the end with its whole process group.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.engine.process import free_port
from tests.support.engine import ARTIFACTS, RunningEngine, engine_config, start_engine

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def vllm_server() -> RunningEngine:
    ARTIFACTS.mkdir(exist_ok=True)
    config = engine_config(free_port())
    engine = start_engine(config, "vllm-session.log")
    try:
        yield RunningEngine(config, engine)
    finally:
        engine.stop()


def pytest_collection_modifyitems(config, items):
    # Real-server and browser tests are marked by folder, so none can be forgotten.
    for item in items:
        path = Path(str(item.fspath))
        if "integration" in path.parts:
            item.add_marker(pytest.mark.integration)
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
