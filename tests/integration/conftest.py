"""Fixtures of the real-server tests: one recording proxy, one chat-app factory.

`proxy` is a `FaultProxy` in front of the session's vLLM (no fault until a test sets
one). `chat_app(name, env)` makes a `ChatApp` (use it in a ``with``) whose model server
is the proxy (``via_proxy=False``: the vLLM itself), with the server's key, its own run
directory and ``artifacts/chat-NAME.log``; ``env`` is added last and wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.engine import ARTIFACTS, RunningEngine
from tests.support.fault_proxy import FaultProxy

ChatAppFactory = Callable[..., ChatApp]


@pytest.fixture(scope="module")
def proxy(vllm_server: RunningEngine) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(vllm_server.config.server_root, free_port()).start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture(scope="module")
def chat_app(
    vllm_server: RunningEngine, tmp_path_factory: pytest.TempPathFactory, request
) -> ChatAppFactory:
    def make(name: str, env: dict[str, str] | None = None, *, via_proxy: bool = True) -> ChatApp:
        base_url = request.getfixturevalue("proxy").base_url if via_proxy else None
        full = {
            "VLLM_BASE_URL": base_url or vllm_server.base_url,
            "VLLM_API_KEY": vllm_server.config.vllm_api_key,
            "RUN_DIR": str(tmp_path_factory.mktemp(f"run-{name}")),
            **(env or {}),
        }
        return ChatApp(free_port(), full, ARTIFACTS / f"chat-{name}.log")

    return make
