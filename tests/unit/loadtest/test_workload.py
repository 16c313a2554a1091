"""Prompts are unique and exactly sized; arrivals follow the requested process."""

import random
import statistics

import httpx
import pytest

from backend.config import server_root
from backend.loadtest.workload import (
    Tokenizer,
    arrival_offsets_s,
    build_plan,
    thinking_flags,
    unique_prefixes,
)
from tests.support.fake_openai_server import CHAT_TEMPLATE_TOKENS, FakeOpenAIServer


def test_prefixes_are_unique_and_seeded():
    a = unique_prefixes(2000, random.Random(1))
    assert len({tuple(p) for p in a}) == 2000
    assert a == unique_prefixes(2000, random.Random(1))
    assert a != unique_prefixes(2000, random.Random(2))


def test_think_ratio_is_exact():
    flags = thinking_flags(40, 0.25, random.Random(0))
    assert sum(flags) == 10 and flags != sorted(flags, reverse=True)


def test_poisson_gaps_are_exponential():
    rate = 20.0
    offsets = arrival_offsets_s(4000, rate, 1.0, random.Random(7))
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    assert offsets[-1] == pytest.approx(4000 / rate)  # rescaled like vLLM's benchmark
    assert statistics.mean(gaps) == pytest.approx(1 / rate, rel=0.02)
    cv = statistics.stdev(gaps) / statistics.mean(gaps)
    assert cv == pytest.approx(1.0, abs=0.06)  # exponential: CV 1
    share_below_mean = sum(g < 1 / rate for g in gaps) / len(gaps)
    assert share_below_mean == pytest.approx(1 - 2.718281828**-1, abs=0.03)  # P(X<mean)=1-1/e


@pytest.mark.parametrize("burstiness", [0.25, 4.0])
def test_gamma_burstiness_sets_the_spread(burstiness):
    offsets = arrival_offsets_s(4000, 10.0, burstiness, random.Random(3))
    gaps = [b - a for a, b in zip([0.0, *offsets], offsets, strict=False)]
    cv = statistics.stdev(gaps) / statistics.mean(gaps)
    assert cv == pytest.approx(burstiness**-0.5, rel=0.1)  # gamma(k): CV = 1/sqrt(k)


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
async def test_plan_hits_the_input_length_exactly_with_tokenize(endpoint):
    async with FakeOpenAIServer() as server, httpx.AsyncClient() as http:
        root = server_root(server.base_url)
        tok = Tokenizer(root, "fake-qwen3", endpoint, http)
        plan = await build_plan(
            30, input_len=64, output_len=8, think_ratio=0.5, seed=5, tokenizer=tok
        )
    overhead = CHAT_TEMPLATE_TOKENS if endpoint == "chat" else 0
    assert plan.exact
    assert {len(s.prompt.split()) + overhead for s in plan.specs} == {64}
    assert len({s.prompt for s in plan.specs}) == 30
    assert len({s.prompt.split()[0] + s.prompt.split()[1] for s in plan.specs}) > 20


async def test_plan_without_tokenize_is_marked_approximate():
    async with httpx.AsyncClient() as http:
        tok = Tokenizer("http://127.0.0.1:9", "m", "chat", http)  # nothing listens there
        plan = await build_plan(3, input_len=20, output_len=8, think_ratio=0, seed=1, tokenizer=tok)
    assert not plan.exact
    assert [len(s.prompt.split()) for s in plan.specs] == [20, 20, 20]
