"""Streaming and Stop, in the browser, on the real vLLM seen through a slow link.

The demo model streams hundreds of tokens a second, faster than a person (or a browser on
two busy cores) can react; a proxy that spaces the real server's events 20 ms apart keeps
the answer streaming long enough to watch it stream and to press Stop in the middle of it.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_page import open_chat
from tests.support.engine import ARTIFACTS
from tests.support.fault_proxy import Fault, FaultProxy


@pytest.fixture(scope="module")
def slow_chat_url(vllm_server, tmp_path_factory):
    proxy = FaultProxy(vllm_server.config.server_root, free_port()).start()
    proxy.reset(Fault(event_delay_s=0.02))
    env = {
        "VLLM_BASE_URL": proxy.base_url,
        "VLLM_API_KEY": vllm_server.config.vllm_api_key,
        "RUN_DIR": str(tmp_path_factory.mktemp("run-stop")),
    }
    try:
        with ChatApp(free_port(), env, ARTIFACTS / "chat-stop.log") as app:
            yield app.url
    finally:
        proxy.stop()


@pytest.fixture
def slow_chat(browser, slow_chat_url, request):
    with open_chat(browser, slow_chat_url, request.node.name) as chat:
        yield chat


def test_reasoning_streams_into_an_open_thinking_step(slow_chat):
    chat = slow_chat
    chat.watch_thinking()
    chat.send("What is 23 + 45?")
    chat.wait_idle()
    # While the model reasoned, the step was titled "Thinking…", open, and filling.
    seen = chat.thinking_seen()
    assert seen["shown"] and seen["open"] and seen["text"] > 10, seen
    # Then it collapsed and was titled with the time it took.
    expect(chat.step_title()).to_contain_text("Thought for")
    region = chat.reasoning_steps().last.locator('[role="region"]')
    expect(region).to_have_attribute("data-state", "closed")
    assert "68" in chat.last_answer_text()


def test_stop_keeps_the_partial_answer(slow_chat):
    chat = slow_chat
    chat.set_setting("max_tokens", "800")
    chat.send("Count from 1 to 250.")  # the demo model's longest answer
    chat.stop_once_answer_shows("1, 2, 3")
    chat.wait_idle()
    expect(chat.step_title()).to_contain_text("Thought for")
    # The partial answer stays, marked as stopped (Chainlit adds its own notice below it).
    answer = chat.answers().filter(has_text="1, 2, 3")
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("Stopped.")
    assert "cut off" not in answer.inner_text()  # stopped, not run to the token limit
    # The reasoning that arrived is still there when the step is opened.
    chat.step_title().click()
    assert chat.reasoning_steps().last.inner_text().strip()
    # And the chat goes on.
    chat.send("Hello! /no_think")
    chat.wait_idle()
    expect(chat.answers().last).to_contain_text("first token")
