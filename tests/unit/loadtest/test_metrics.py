"""summarize() on hand-built results: every number checked against a hand calculation."""

import pytest

from backend.loadtest.metrics import (
    RequestResult,
    is_good,
    parse_slo,
    peak_output_tok_s,
    percentile,
    stats,
    summarize,
)
from backend.loadtest.report import compare, find_knee

# Two successes and two failures over 4 s of wall time.
A = RequestResult(True, 0.0, 0.1, 0.5, (0.1, 0.1, 0.1, 0.1), 5, 10, 5)
B = RequestResult(True, 1.0, 0.3, 2.3, (0.5, 0.5, 0.5, 0.5), 5, 20, 5)
BAD = [RequestResult(False, 0.0, error="HTTP 503"), RequestResult(False, 0.0, error="HTTP 503")]
CUT = RequestResult(False, 0.0, error="APIConnectionError")


def test_counts_and_throughput():
    s = summarize([A, B, *BAD, CUT], 4.0, concurrency=2)
    assert (s.success, s.failed) == (2, 3)
    assert s.errors == {"HTTP 503": 2, "APIConnectionError": 1}
    assert s.request_s == pytest.approx(0.5)
    assert s.output_tok_s == pytest.approx(10 / 4)
    assert s.total_tok_s == pytest.approx((10 + 30) / 4)
    assert s.goodput_request_s is None


def test_latency_distributions_in_ms():
    s = summarize([A, B], 4.0)
    assert s.ttft_ms.mean == pytest.approx(200)
    assert s.ttft_ms.p50 == pytest.approx(200)
    assert s.e2e_ms.p99 == pytest.approx(500 + 0.99 * 1800)
    # TPOT = (e2e - ttft) / (tokens - 1): A 100 ms, B 500 ms
    assert (s.tpot_ms.min, s.tpot_ms.max) == pytest.approx((100, 500))
    assert s.itl_ms.n == 8 and s.itl_ms.p50 == pytest.approx(300)
    assert s.per_user_tok_s.max == pytest.approx(10.0)  # 4 tokens in 0.4 s


def test_single_token_answers_have_no_tpot_but_are_good():
    one = RequestResult(True, 0.0, 0.2, 0.2, (), 1, 3, 1)
    s = summarize([one], 1.0, slo_ms={"tpot_ms": 1.0})
    assert s.tpot_ms.n == 0
    assert s.goodput_request_s == pytest.approx(1.0)


def test_goodput_applies_every_slo():
    assert is_good(A, {"ttft_ms": 150, "tpot_ms": 100})
    assert not is_good(B, {"ttft_ms": 150})
    assert not is_good(A, {"e2e_ms": 499})
    s = summarize([A, B], 2.0, slo_ms={"ttft_ms": 150})
    assert s.goodput_request_s == pytest.approx(0.5)


def test_all_failed_gives_zeros_not_errors():
    s = summarize(BAD, 1.0)
    assert s.success == 0 and s.ttft_ms.p99 == 0.0 and s.peak_output_tok_s == 0.0


def test_peak_output_tokens_per_second_bucket():
    # token times: A at 0.1..0.5 (5 in second 0); B at 1.3, 1.8, 2.3, 2.8, 3.3
    assert peak_output_tok_s([A, B]) == pytest.approx(5)
    coalesced = RequestResult(True, 0.0, 0.1, 0.2, (0.1,), 10, 1, 2)  # 2 chunks, 10 tokens
    assert peak_output_tok_s([coalesced]) == pytest.approx(10)


def test_percentile_matches_numpy_linear():
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 90) == pytest.approx(7.6)
    assert percentile(values, 99) == pytest.approx(9.76)
    assert stats([]).n == 0


def test_parse_slo():
    assert parse_slo("ttft_ms=500, tpot_ms=50") == {"ttft_ms": 500.0, "tpot_ms": 50.0}
    assert parse_slo(None) == {}
    with pytest.raises(ValueError):
        parse_slo("ttft=5")


def _row(c, tok_s, ttft, tpot):
    return {
        "concurrency": c,
        "output_tok_s": tok_s,
        "ttft_ms": {"p50": ttft, "p99": ttft},
        "tpot_ms": {"p50": tpot},
        "e2e_ms": {"p50": 0},
        "socket_events_per_answer": 0,
    }


def test_knee_is_the_last_level_worth_its_latency():
    rows = [_row(1, 100, 10, 5), _row(8, 600, 12, 6), _row(64, 640, 80, 9), _row(256, 650, 900, 20)]
    assert find_knee(rows) == 1
    assert find_knee(rows[:2]) is None
    assert find_knee([_row(1, 100, 10, 5), _row(2, 105, 10, 5)]) is None  # flat but no slower


def test_compare_app_with_direct():
    direct, app = _row(8, 600, 12, 6), _row(8, 540, 40, 6)
    app["socket_events_per_answer"] = 70
    out = compare(direct, app)
    assert out["added_ttft_p50_ms"] == 28 and out["output_tok_s_ratio"] == pytest.approx(0.9)
    assert out["socket_events_per_answer"] == 70
