"""The chat's metrics: what each recording does to the series, bounded labels, the
snapshot Status shows, error kinds, and who may read /metrics."""

from __future__ import annotations

import httpx
import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from backend.chat.status import chat_lines
from backend.config import Config
from backend.metrics import ERROR_KINDS, ChatMetrics, error_kind
from backend.metrics.chat import MODES, OUTCOMES, TOKEN_KINDS
from backend.metrics.http import install, is_loopback, refusal
from backend.server.client import ServerError


@pytest.fixture
def metrics() -> ChatMetrics:
    return ChatMetrics(CollectorRegistry())


def scraped(metrics: ChatMetrics) -> dict[tuple[str, tuple], float]:
    """What Prometheus would read: the exposition text, parsed."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_bounded_label_value_exists_at_zero_before_anything_happens(metrics):
    values = scraped(metrics)
    for outcome in OUTCOMES:
        assert values[("hybrid_chat_answers_total", (("outcome", outcome),))] == 0
    for kind in ERROR_KINDS:
        assert values[("hybrid_chat_answer_errors_total", (("kind", kind),))] == 0
    for mode in MODES:
        assert values[("hybrid_chat_messages_total", (("mode", mode),))] == 0
    for kind in TOKEN_KINDS:
        assert values[("hybrid_chat_tokens_total", (("kind", kind),))] == 0
    assert values[("hybrid_chat_history_save_failures_total", ())] == 0


def test_names_carry_units_and_counters_end_in_total(metrics):
    for family in metrics.registry.collect():
        for sample in family.samples:
            name = sample.name
            assert name.startswith("hybrid_chat_"), name
            if family.type == "counter":
                assert name.endswith("_total"), name
            if family.type == "histogram":
                assert family.name.endswith("_seconds"), name


def test_sessions_count_once_and_leave_once(metrics):
    metrics.session_opened("sess-7f3a")
    metrics.session_opened("sess-7f3a")  # a tab that reconnected and sent a message
    metrics.session_opened("sess-b")
    assert metrics.snapshot().active_sessions == 2
    metrics.session_closed("sess-7f3a")
    metrics.session_closed("sess-7f3a")
    assert metrics.snapshot().active_sessions == 1
    text = generate_latest(metrics.registry).decode()
    assert "sess-" not in text, "no session id in a label"


def test_an_answer_moves_outcome_ttft_tokens_and_budget(metrics):
    metrics.message(thinking=True)
    metrics.answer(
        "completed",
        thinking=True,
        ttft_s=0.2,
        elapsed_s=3.0,
        reasoning_tokens=40,
        answer_tokens=12,
        budget_cut=True,
    )
    metrics.answer("length", thinking=False, ttft_s=None, elapsed_s=9.0, answer_tokens=5)
    values = scraped(metrics)
    assert values[("hybrid_chat_messages_total", (("mode", "think"),))] == 1
    assert values[("hybrid_chat_answers_total", (("outcome", "completed"),))] == 1
    assert values[("hybrid_chat_answers_total", (("outcome", "length"),))] == 1
    ttft = ("hybrid_chat_time_to_first_token_seconds_bucket", (("le", "0.25"), ("mode", "think")))
    assert values[ttft] == 1
    assert values[("hybrid_chat_time_to_first_token_seconds_count", (("mode", "no_think"),))] == 0
    assert values[("hybrid_chat_tokens_total", (("kind", "reasoning"),))] == 40
    assert values[("hybrid_chat_tokens_total", (("kind", "answer"),))] == 17
    assert values[("hybrid_chat_thinking_budget_hits_total", ())] == 1
    done = (
        "hybrid_chat_answer_duration_seconds_count",
        (("mode", "no_think"), ("outcome", "length")),
    )
    assert values[done] == 1


def test_errors_are_counted_by_a_known_kind_only(metrics):
    metrics.answer("error", thinking=False, ttft_s=None, elapsed_s=1.0, error_kind="timeout")
    metrics.answer("error", thinking=False, ttft_s=None, elapsed_s=1.0, error_kind="rm -rf /")
    metrics.not_sent("context_full")
    snap = metrics.snapshot()
    assert snap.answers["error"] == 3
    assert snap.errors["timeout"] == 1 and snap.errors["internal"] == 1
    assert snap.errors["context_full"] == 1
    labels = {v for key in scraped(metrics) for _, v in key[1]}
    assert "rm -rf /" not in labels


def test_snapshot_equals_what_prometheus_scrapes(metrics):
    metrics.session_opened("s")
    metrics.answer("stopped", thinking=True, ttft_s=0.5, elapsed_s=2.0)
    metrics.answer("completed", thinking=False, ttft_s=1.5, elapsed_s=2.0)
    metrics.history_save_failures.inc()
    snap, values = metrics.snapshot(), scraped(metrics)
    for outcome in OUTCOMES:
        assert (
            snap.answers[outcome] == values[("hybrid_chat_answers_total", (("outcome", outcome),))]
        )
    assert snap.active_sessions == values[("hybrid_chat_active_sessions", ())] == 1
    assert snap.history_save_failures == 1
    assert snap.mean_ttft_s == pytest.approx(1.0)
    text = "\n".join(chat_lines(snap))
    assert "Active sessions: 1" in text
    assert "1 completed, 1 stopped, 0 cut off by length, 0 failed" in text
    assert "Mean time to first token: 1000 ms" in text
    assert "history save failures: 1" in text


def _caused(exc: BaseException, cause: BaseException) -> ServerError:
    exc.__cause__ = cause
    return exc


REQUEST = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ServerError("down", unreachable=True), "unreachable"),
        (_caused(ServerError("slow"), openai.APITimeoutError(REQUEST)), "timeout"),
        (_caused(ServerError("slow"), httpx.ReadTimeout("t")), "timeout"),
        (_caused(ServerError("cut"), httpx.RemoteProtocolError("peer closed")), "disconnected"),
        (
            _caused(
                ServerError("cut"),
                _caused(openai.APIConnectionError(request=REQUEST), httpx.RemoteProtocolError("x")),
            ),
            "disconnected",
        ),
        (
            _caused(
                ServerError("400"),
                openai.BadRequestError(
                    "bad", response=httpx.Response(400, request=REQUEST), body=None
                ),
            ),
            "rejected",
        ),
        (
            _caused(
                ServerError("500"),
                openai.InternalServerError(
                    "x", response=httpx.Response(500, request=REQUEST), body=None
                ),
            ),
            "server",
        ),
        (_caused(ServerError("json"), ValueError("not an object")), "malformed"),
        (ServerError("does not serve 'x'"), "rejected"),
        (RuntimeError("bug"), "internal"),
    ],
)
def test_error_kind(exc, kind):
    assert error_kind(exc) == kind
    assert kind in ERROR_KINDS


@pytest.mark.parametrize(
    ("host", "token", "header", "status"),
    [
        ("127.0.0.1", "", None, None),
        ("localhost", "", None, None),
        ("::1", "", None, None),
        ("0.0.0.0", "", None, 403),
        ("192.168.1.5", "", "Bearer anything", 403),
        ("0.0.0.0", "s3cret", None, 401),
        ("0.0.0.0", "s3cret", "Bearer wrong", 401),
        ("0.0.0.0", "s3cret", "Bearer s3cret", None),
        ("127.0.0.1", "s3cret", None, 401),  # a token, once set, is always required
    ],
)
def test_who_may_read_the_metrics(host, token, header, status):
    result = refusal(Config(host=host, metrics_token=token), header)
    assert (result[0] if result else None) == status


def test_loopback():
    assert is_loopback("127.0.0.2") and not is_loopback("0.0.0.0") and not is_loopback("chat")


def test_route_comes_before_a_catch_all_and_serves_the_registry(metrics):
    app = FastAPI()

    @app.get("/{full_path:path}")
    async def page(full_path: str):
        return {"page": full_path}

    install(app, Config(host="0.0.0.0", metrics_token="t0k"), metrics.registry)
    install(app, Config(host="0.0.0.0", metrics_token="t0k"), metrics.registry)  # once only
    assert sum(getattr(r, "path", "") == "/metrics" for r in app.router.routes) == 1
    metrics.message(thinking=False)
    client = TestClient(app)
    refused = client.get("/metrics")
    assert refused.status_code == 401 and "METRICS_TOKEN" in refused.text
    served = client.get("/metrics", headers={"Authorization": "Bearer t0k"})
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/plain")
    assert 'hybrid_chat_messages_total{mode="no_think"} 1.0' in served.text
