"""The soak's accounting: a message counts as sent only once the server acknowledged it."""

from __future__ import annotations

import pytest

from bench.soak import saved_counts

CASES = [
    # (stored rows, acknowledged, attempted) -> missing, extra_or_doubled, unconfirmed_stored
    pytest.param(["a", "b"], ["a", "b"], ["a", "b"], (0, 0, 0), id="all stored"),
    pytest.param(["a"], ["a", "b"], ["a", "b"], (1, 0, 0), id="acknowledged, then lost"),
    pytest.param(["a"], ["a"], ["a", "b"], (0, 0, 0), id="emit failed, nothing stored"),
    pytest.param(["a", "b"], ["a"], ["a", "b"], (0, 0, 1), id="emit failed, stored anyway"),
    pytest.param(["a", "a"], ["a"], ["a"], (0, 1, 0), id="stored twice"),
    pytest.param(["a", "z"], ["a"], ["a"], (0, 1, 0), id="never sent"),
]


@pytest.mark.parametrize(("rows", "sent", "attempted", "expected"), CASES)
def test_saved_counts(rows, sent, attempted, expected):
    counts = saved_counts(rows, sent, attempted)
    assert (counts["missing"], counts["extra_or_doubled"], counts["unconfirmed_stored"]) == expected
    assert counts["unconfirmed"] == len(set(attempted) - set(sent))
