"""summarize_server: the engine's own view of a level, checked against hand calculations."""

import pytest

from backend.loadtest.server_view import summarize_server
from backend.server.metrics import ServerMetrics


def sample(running: int, generated: int, hits: int = 0, queries: int = 0) -> ServerMetrics:
    return ServerMetrics(running, 0, 0.5, 0, None, "q", hits, queries, generation_tokens=generated)


def test_no_samples_is_no_view():
    assert summarize_server([]) is None


def test_generation_rate_is_the_counter_delta_over_the_sampled_window():
    view = summarize_server(
        [sample(1, 1_000), sample(4, 3_000), sample(2, 6_000)], times_s=[10.0, 11.0, 12.5]
    )
    assert view is not None
    assert view.generation_tokens == 5_000
    assert view.generation_tok_s == pytest.approx(5_000 / 2.5)
    assert (view.running_max, view.running_mean) == (4, pytest.approx(7 / 3))


def test_no_rate_without_a_window():
    one = summarize_server([sample(1, 500)], times_s=[3.0])
    untimed = summarize_server([sample(1, 500), sample(1, 900)])
    assert one is not None and one.generation_tok_s is None
    assert untimed is not None and untimed.generation_tokens == 400
    assert untimed.generation_tok_s is None


def test_a_restarted_engine_counts_no_negative_tokens():
    view = summarize_server([sample(1, 9_000), sample(1, 100)], times_s=[0.0, 1.0])
    assert view is not None and view.generation_tokens == 0


def test_prefix_hit_rate_over_the_level_only():
    view = summarize_server([sample(0, 0, 100, 1_000), sample(0, 0, 400, 2_000)], [0.0, 1.0])
    assert view is not None and view.prefix_cache_hit_rate == pytest.approx(300 / 1_000)
