"""Browser fixtures: start.sh's front end against the session's vLLM, driven by chromium.

start.sh sees a model server already answering at VLLM_BASE_URL and starts only the
chat, which is exactly the path a user with a running vLLM takes.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import sync_playwright

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_page import open_chat
from tests.support.engine import ARTIFACTS
from tests.support.fault_proxy import FaultProxy
from tests.support.start_sh import StartSh

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chat_url(vllm_server, tmp_path_factory):
    env = {
        "VLLM_BASE_URL": vllm_server.base_url,
        "VLLM_API_KEY": vllm_server.config.vllm_api_key,
        "PORT": str(free_port()),
        "RUN_DIR": str(tmp_path_factory.mktemp("run")),
    }
    start = StartSh(env, "start-sh.log")
    deadline = time.monotonic() + 180
    while start.status() is None:
        if start.process.poll() is not None:
            pytest.fail(f"start.sh exited with {start.process.returncode}; see {start.log_path}")
        if time.monotonic() > deadline:
            pytest.fail("the chat did not come up within 180 s")
        time.sleep(0.5)
    yield start.chat_url
    start.interrupt(timeout_s=30)  # Ctrl-C, as a user would


# Module scope: Playwright's sync API keeps an event loop running while it is open, and
# the async tests that follow need theirs.
@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def chat(browser, chat_url, request):
    with open_chat(browser, chat_url, request.node.name) as chat_page:
        yield chat_page


@pytest.fixture(scope="module")
def proxied_chat(vllm_server, tmp_path_factory, request):
    """(proxy, url): a chat whose model server is the session's vLLM behind a recording,
    fault-injecting proxy (support/fault_proxy.py); one per test module."""
    proxy = FaultProxy(vllm_server.config.server_root, free_port()).start()
    name = request.module.__name__.rsplit(".", 1)[-1]
    env = {
        "VLLM_BASE_URL": proxy.base_url,
        "VLLM_API_KEY": vllm_server.config.vllm_api_key,
        "RUN_DIR": str(tmp_path_factory.mktemp(f"run-{name}")),
    }
    try:
        with ChatApp(free_port(), env, ARTIFACTS / f"chat-{name}.log") as app:
            yield proxy, app.url
    finally:
        proxy.stop()
