"""Browser fixtures: start.sh's front end against the session's vLLM, driven by chromium.

start.sh sees a model server already answering at VLLM_BASE_URL and starts only the
chat, which is exactly the path a user with a running vLLM takes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest
from playwright.sync_api import sync_playwright

from backend.config import ROOT
from support.chat_page import open_chat
from support.chat_socket import ChatApp
from support.engine import ARTIFACTS, free_port
from support.fault_proxy import FaultProxy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chat_url(vllm_server, tmp_path_factory):
    port = free_port()
    env = {
        **os.environ,
        "VLLM_BASE_URL": vllm_server.base_url,
        "VLLM_API_KEY": vllm_server.config.vllm_api_key,
        "PORT": str(port),
        "RUN_DIR": str(tmp_path_factory.mktemp("run")),
    }
    log = (ARTIFACTS / "start-sh.log").open("w")
    process = subprocess.Popen(
        [str(ROOT / "start.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/hybrid-chat/status", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            pytest.fail(f"start.sh exited with {process.returncode}; see artifacts/start-sh.log")
        time.sleep(0.5)
    else:
        pytest.fail("the chat did not come up within 180 s")
    yield url
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as a user would
    process.wait(timeout=30)
    log.close()


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
