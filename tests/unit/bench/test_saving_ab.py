"""The side-by-side saving bench's estimate: each start order weighs the same."""

from __future__ import annotations

import math

import pytest

from bench.saving_ab import balanced, summarize


def _round(first: str, off: float, on: float) -> dict:
    side = lambda cpu: {"cpu_ms_per_answer": cpu, "ttft_p50_ms": 10.0, "threads_ms_per_answer": 0.5}  # noqa: E731
    return {"started_first": first, "off": side(off), "on": side(on)}


def test_each_start_order_weighs_the_same():
    # Saving costs 0.5 ms; starting first costs 1.5 ms more, whichever side it is.
    # Three rounds with "on" first and one with "off" first: a plain mean would say 1.25.
    rounds = [_round("on", 40.0, 42.0)] * 3 + [_round("off", 41.5, 40.5)]
    estimate, _ = balanced(rounds, "cpu_ms_per_answer")
    assert estimate == pytest.approx(0.5)


def test_standard_error_combines_both_orders():
    rounds = [
        _round("off", 40.0, 40.0),
        _round("off", 40.0, 41.0),
        _round("on", 40.0, 42.0),
        _round("on", 40.0, 44.0),
    ]
    estimate, se = balanced(rounds, "cpu_ms_per_answer")
    # Orders: off first 0 and 1 (mean 0.5, s.e. 0.5); on first 2 and 4 (mean 3, s.e. 1).
    assert estimate == pytest.approx(1.75)
    assert se == pytest.approx(math.sqrt(0.5**2 + 1.0**2) / 2)


def test_summary_in_percent_of_saving_off():
    rounds = [_round("off", 50.0, 50.5), _round("on", 50.0, 50.5)]
    summary = summarize(rounds)
    assert summary["added_cpu_ms_per_answer"] == pytest.approx(0.5)
    assert summary["added_cpu_pct"] == pytest.approx(1.0)
    assert summary["added_ttft_p50_ms"] == pytest.approx(0.0)
    assert math.isnan(summary["added_cpu_ms_se"])  # one round per order: no spread to tell


def test_one_order_only_is_its_plain_mean():
    rounds = [_round("off", 40.0, 41.0), _round("off", 40.0, 42.0)]
    assert balanced(rounds, "cpu_ms_per_answer")[0] == pytest.approx(1.5)
