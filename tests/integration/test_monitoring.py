"""Monitoring for real: Debian's Prometheus scrapes the real chat (with METRICS_TOKEN, as
when it listens beyond loopback) and the real vLLM CPU build (with its API key, from a
file), after a few chats; every dashboard panel's query returns data, every alert rule
evaluates and stays silent, and the Status command shows the numbers /metrics serves."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.auth.client import login_cookie
from backend.config import Config
from backend.engine.process import free_port
from backend.metrics.cli import TTFT_P95, graph_url
from backend.metrics.prometheus import PrometheusServer, write_run_config
from backend.server.metrics import parse_metrics
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession
from tests.support.dashboard import dashboard_exprs
from tests.support.engine import ARTIFACTS

TOKEN = secrets.token_urlsafe(16)
USER, PASSWORD = "ops", secrets.token_urlsafe(12)  # a chat open to a network needs an account
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GREEDY = {"temperature": 0}
ROUNDS = 3


@pytest.fixture(scope="module")
def monitored(chat_app):
    # The chat is configured as open to a network (HOST): its metrics need the token.
    env = {
        "HOST": "0.0.0.0",
        "METRICS_TOKEN": TOKEN,
        "CHAT_USERNAME": USER,
        "CHAT_PASSWORD": PASSWORD,
    }
    with chat_app("monitoring", env, via_proxy=False) as app:
        yield app


@pytest.fixture(scope="module")
def prometheus(vllm_server, monitored, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("prometheus")
    config = Config(
        vllm_base_url=vllm_server.base_url,
        vllm_api_key=vllm_server.config.vllm_api_key,
        host="0.0.0.0",
        port=monitored.port,
        metrics_token=TOKEN,
        run_dir=str(run_dir),
    )
    path = write_run_config(config, run_dir / "monitoring", scrape_interval="1s")
    server = PrometheusServer(path, free_port(), run_dir / "data", ARTIFACTS / "prometheus.log")
    with server:
        yield server


async def _chat_round(url: str) -> None:
    """One person's few messages: thinking, not, cut off by length, budget, too long."""
    cookie = await login_cookie(url, USER, PASSWORD)
    async with ChatSession(url, cookie=cookie, settings=GREEDY) as tab:
        await tab.ask("What is 247 + 653?", think=True)
        await tab.ask("What is 2 + 3? /no_think")
        await tab.change_settings({**GREEDY, "thinking_budget": 8}, timeout_s=0.5)
        await tab.ask("What is 487 + 356?", think=True)
        await tab.change_settings({**GREEDY, "thinking_budget": 0, "max_tokens": 6}, timeout_s=0.5)
        await tab.ask("What is 12 + 30?", think=True)
        await tab.ask("word " * 6000)  # does not fit the demo model's context


@pytest.fixture(scope="module")
def chatted(monitored, prometheus):
    for _ in range(ROUNDS):
        asyncio.run(_chat_round(monitored.url))
    return prometheus


def query(server: PrometheusServer, expr: str) -> list[dict]:
    response = httpx.get(f"{server.url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


def until(predicate, timeout_s: float = 30.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def chat_scrape(app: ChatApp) -> dict[tuple, float]:
    text = httpx.get(f"{app.url}/metrics", headers=AUTH, timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_chat_metrics_need_the_token_when_open_to_a_network(monitored):
    url = f"{monitored.url}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer no"}, timeout=10).status_code == 401
    served = httpx.get(url, headers=AUTH, timeout=10)
    assert served.status_code == 200 and "hybrid_chat_answers_total" in served.text
    assert httpx.get(f"{monitored.url}/auth/config", timeout=10).status_code == 200


def test_prometheus_scrapes_both_servers_with_their_keys(prometheus):
    def healthy():
        targets = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()
        found = {t["labels"]["job"]: t for t in targets["data"]["activeTargets"]}
        return found if all(t["health"] == "up" for t in found.values()) else None

    found = until(healthy)
    assert found and set(found) == {"vllm", "chat"}, found


def test_the_chats_are_counted_by_outcome(monitored, chatted):
    values = chat_scrape(monitored)

    def total(name, **labels):
        return values[(name, tuple(sorted(labels.items())))]

    assert total("hybrid_chat_answers_total", outcome="completed") >= 2 * ROUNDS
    assert total("hybrid_chat_answers_total", outcome="length") >= ROUNDS
    assert total("hybrid_chat_answer_errors_total", kind="context_full") == ROUNDS
    assert total("hybrid_chat_answers_total", outcome="error") == ROUNDS
    assert total("hybrid_chat_messages_total", mode="think") == 3 * ROUNDS
    assert total("hybrid_chat_messages_total", mode="no_think") == 2 * ROUNDS
    assert total("hybrid_chat_thinking_budget_hits_total") >= ROUNDS
    assert total("hybrid_chat_tokens_total", kind="answer") > 0
    assert total("hybrid_chat_tokens_total", kind="reasoning") > 0
    assert total("hybrid_chat_active_sessions") == 0, "every tab was closed"


def test_every_dashboard_panel_query_returns_data(chatted):
    exprs = dashboard_exprs()

    def empty():
        return [e for e in exprs if not query(chatted, e)]

    assert until(lambda: not empty(), 60), f"no data: {empty()}"
    chat_p95 = query(chatted, TTFT_P95)[0]["value"][1]
    assert 0 < float(chat_p95) < 60, chat_p95


def test_every_alert_rule_evaluates_and_stays_silent(chatted):
    def evaluated():
        groups = httpx.get(f"{chatted.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        done = all(r["lastEvaluation"] > "2000" for r in rules)
        return rules if done and rules else None

    rules = until(evaluated)
    assert rules and len(rules) >= 6
    for rule in rules:
        assert rule["health"] == "ok" and not rule.get("lastError"), rule
        assert rule["state"] == "inactive", rule
        assert query(chatted, rule["query"]) == [], rule["name"]  # parses, evaluates, silent


def _numbers(text: str, label: str) -> list[int]:
    line = next(line for line in text.splitlines() if line.startswith(f"- {label}"))
    return [int(n) for n in re.findall(r"\d+", line)]


async def _status(url: str) -> str:
    cookie = await login_cookie(url, USER, PASSWORD)
    async with ChatSession(url, cookie=cookie) as tab:
        mark = tab.mark()
        await tab.send("", extra={"command": "Status"})
        await tab.wait_idle(60)
        return next(i.content for i in tab.since(mark).items if i.author == "Status")


def test_status_shows_the_numbers_metrics_and_prometheus_have(monitored, chatted, vllm_server):
    text = asyncio.run(_status(monitored.url))
    values = chat_scrape(monitored)  # the same registry, read after Status answered
    answers = [
        int(values[("hybrid_chat_answers_total", (("outcome", o),))])
        for o in ("completed", "stopped", "length", "error")
    ]
    assert _numbers(text, "Answers:") == answers
    assert _numbers(text, "Messages:") == [
        int(values[("hybrid_chat_messages_total", (("mode", m),))]) for m in ("think", "no_think")
    ]
    server = parse_metrics(vllm_server.metrics())
    running, waiting = _numbers(text, "Requests running")
    assert (running, waiting) == (server.num_requests_running, server.num_requests_waiting)

    def prometheus_agrees():
        rows = query(chatted, "hybrid_chat_answers_total")
        seen = {r["metric"]["outcome"]: int(float(r["value"][1])) for r in rows}
        return [seen.get(o) for o in ("completed", "stopped", "length", "error")] == answers

    assert until(prometheus_agrees), "Prometheus' numbers match Status'"


def test_screenshot_of_the_chat_ttft_graph(chatted):
    from playwright.sync_api import sync_playwright

    url = graph_url(chatted.url, TTFT_P95.replace("[5m]", "[1m]"), "1m")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        # Debian's Prometheus serves the classic UI: a rickshaw (SVG) chart.
        page.wait_for_selector(".graph svg path", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "prometheus-chat-ttft.png"), full_page=False)
        browser.close()
    assert (ARTIFACTS / "prometheus-chat-ttft.png").stat().st_size > 10_000
    assert not math.isnan(float(query(chatted, TTFT_P95)[0]["value"][1]))
