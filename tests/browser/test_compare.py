"""Compare in the browser, on the real vLLM (demo model) behind a recording proxy.

The proxy records what the model server received, so the tests check the requests
themselves: two at once, differing only in thinking and the mode's sampling presets, and
the next turn's history holding only the kept answer.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from backend.server.metrics import parse_metrics
from tests.support.chat_page import open_chat
from tests.support.compare_page import (
    WATCH_JS,
    answer_text,
    comparison,
    send_compare,
    side,
    wait_final,
)
from tests.support.engine import ARTIFACTS
from tests.support.fault_proxy import Fault

MODE_KEYS = {"temperature", "top_p", "chat_template_kwargs"}


@pytest.fixture
def chat(browser, proxied_chat, request):
    proxy, url = proxied_chat
    proxy.reset(Fault(event_delay_s=0.02))  # slow enough to watch both sides stream
    with open_chat(browser, url, request.node.name) as page:
        yield proxy, page


def _chat_bodies(proxy) -> list[dict]:
    return [b for b in proxy.record.bodies if b.get("stream")]


def test_side_by_side_when_wide_stacked_when_narrow(chat):
    _, page = chat
    send_compare(page, "What is 12 + 30?")
    wait_final(page)
    wide = [side(page, k).bounding_box() for k in ("think", "no_think")]
    assert abs(wide[0]["y"] - wide[1]["y"]) < 2 and wide[1]["x"] > wide[0]["x"] + 100
    page.page.set_viewport_size({"width": 560, "height": 900})
    time.sleep(0.3)  # one layout pass
    narrow = [side(page, k).bounding_box() for k in ("think", "no_think")]
    assert narrow[1]["y"] >= narrow[0]["y"] + narrow[0]["height"] - 1
    comparison(page).screenshot(path=str(ARTIFACTS / "compare-narrow.png"))
    page.page.set_viewport_size({"width": 1280, "height": 900})


def test_both_sides_stream_at_once_from_requests_that_differ_only_in_mode(chat):
    proxy, page = chat
    # A first comparison makes the page fetch the element's code (its first frame waits for
    # that, seconds on a busy machine), so the watched one shows from its first frame.
    send_compare(page, "What is 2 + 2?")
    wait_final(page)
    proxy.reset(Fault(event_delay_s=0.15))
    page.page.evaluate(WATCH_JS)
    send_compare(page, "What is 487 + 356?")
    wait_final(page)
    # Both answers, the thinking one with its reasoning folded away.
    for key in ("think", "no_think"):
        expect(side(page, key)).to_have_attribute("data-status", "done")
    assert "843" in answer_text(page, "think")
    assert "487 + 356 =" in answer_text(page, "no_think")  # right or not: no thinking
    for key in ("think", "no_think"):
        stats = side(page, key).locator(".cmp-stats")
        for name in ("first token", "total", "reasoning", "answer"):
            expect(stats.locator(f'[data-stat="{name}"]')).to_be_visible()
    reasoning = side(page, "think").locator("details.cmp-reasoning")
    expect(reasoning.locator("summary")).to_contain_text("Thought for")
    assert reasoning.get_attribute("open") is None
    expect(side(page, "no_think").locator("details")).to_have_count(0)
    expect(page.user_messages().last.locator(".command-span")).to_have_text("Compare")
    # Live: each side showed a streaming state and a growing answer before the end.
    seen = page.page.evaluate("() => window.__compare")
    assert set(seen) == {"think", "no_think"}, seen
    for key in ("think", "no_think"):
        assert {"thinking", "answering"} & set(seen[key]["statuses"]), seen
    for key in ("think", "no_think"):
        assert len([a for a in seen[key]["answers"] if a and a != "…"]) >= 2, seen
    # On the server: two requests in flight together, the same but for the mode.
    bodies = _chat_bodies(proxy)
    assert len(bodies) == 2 and proxy.record.max_in_flight == 2
    think, direct = sorted(bodies, key=lambda b: not b["chat_template_kwargs"]["enable_thinking"])
    assert think["chat_template_kwargs"] == {"enable_thinking": True}
    assert direct["chat_template_kwargs"] == {"enable_thinking": False}
    assert (think["temperature"], think["top_p"]) == (0.6, 0.95)
    assert (direct["temperature"], direct["top_p"]) == (0.7, 0.8)
    same = {k: v for k, v in think.items() if k not in MODE_KEYS}
    assert same == {k: v for k, v in direct.items() if k not in MODE_KEYS}
    # Think is selected again for the next message.
    expect(page.page.locator("#command-Think")).to_have_class(re.compile("text-command"))


def test_the_kept_answer_is_the_only_one_the_server_sees_next(chat):
    proxy, page = chat
    send_compare(page, "What is 305 - 19?")
    wait_final(page)
    expect(side(page, "think").locator(".cmp-kept-label")).to_be_visible()
    # Keep the direct answer instead.
    side(page, "no_think").get_by_role("button", name="Continue from this answer").click()
    expect(side(page, "no_think").locator(".cmp-kept-label")).to_be_visible()
    expect(side(page, "think").locator(".cmp-keep")).to_be_visible()
    kept = answer_text(page, "no_think")
    page.send("What is 12 + 7? /no_think")
    page.wait_idle()
    last = _chat_bodies(proxy)[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user"]
    assert last[0]["content"] == "What is 305 - 19?"
    assert last[1]["content"].strip() == kept
    assert "<think>" not in last[1]["content"] and "column" not in last[1]["content"]


def test_an_error_on_one_side_keeps_the_other(chat):
    proxy, page = chat
    proxy.reset(Fault(status=500, only_thinking=True))
    send_compare(page, "What is 23 + 45?")
    wait_final(page)
    expect(side(page, "think")).to_have_attribute("data-status", "error")
    expect(side(page, "think").locator(".cmp-error")).to_contain_text("HTTP 500")
    expect(side(page, "no_think")).to_have_attribute("data-status", "done")
    assert "23 + 45 =" in answer_text(page, "no_think")  # right or not: no thinking
    # With no thinking answer, the chat continues from the other one.
    expect(side(page, "no_think").locator(".cmp-kept-label")).to_be_visible()
    expect(page.page.locator("text=Traceback")).to_have_count(0)


def test_stop_ends_both_requests_on_the_server(chat, vllm_server):
    proxy, page = chat
    # Long answers on both sides: 3,000 events each at 20 ms through the proxy, so both are
    # still streaming when Stop is pressed, and would go on for a minute if Stop left them.
    # (vLLM itself may already have generated them all: on two busy cores it can finish
    # before the page has sent, so its running count is only checked after Stop.)
    proxy.reset(Fault(event_delay_s=0.02, body_update={"ignore_eos": True, "max_tokens": 3000}))
    send_compare(page, "Count from 1 to 250.")
    deadline = time.monotonic() + 90
    while proxy.record.in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proxy.record.in_flight == 2
    expect(side(page, "no_think")).to_have_attribute("data-status", "answering", timeout=30_000)
    # Pressed from inside the page: a page re-rendering two long answers is slow to drive.
    page.page.evaluate("() => document.querySelector('#stop-button').click()")
    for key in ("think", "no_think"):
        expect(side(page, key)).to_have_attribute("data-status", "stopped", timeout=30_000)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        running = parse_metrics(vllm_server.metrics()).num_requests_running
        if running == 0 and proxy.record.in_flight == 0:
            break
        time.sleep(0.1)
    assert running == 0 and proxy.record.in_flight == 0
    # The chat goes on.
    proxy.reset()
    page.send("Hello! /no_think")
    page.wait_idle()
    expect(page.answers().last).to_contain_text("first token")


def test_empty_compare_sends_nothing(chat):
    proxy, page = chat
    page.page.locator("#command-Compare").click()
    page.send("   /think")
    expect(page.answers().last).to_contain_text("Your message is empty, so nothing was sent")
    assert _chat_bodies(proxy) == []
