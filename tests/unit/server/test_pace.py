"""How many tokens vLLM is asked to put in each streamed chunk (backend/server/pace.py)."""

import pytest

from backend.chat.settings import defaults_for
from backend.config import Config
from backend.server.client import ChatClient
from backend.server.pace import MAX_TOKENS_PER_CHUNK, MIN_TOKENS, WINDOW, StreamPace
from tests.support.vllm_sse import FakeVllm, chunk, usage_chunk

FLUSH_S = 0.05


def test_one_token_per_chunk_until_an_answer_has_finished():
    assert StreamPace(FLUSH_S).tokens_per_chunk == 1


@pytest.mark.parametrize(
    ("tokens_per_s", "expected"),
    [
        (270.0, 6),  # a GPU stream: the tokens of half a flush interval
        (100.0, 2),
        (79.0, 1),  # under two tokens per half flush: a chunk per token (a CPU engine)
        (5.0, 1),
        (2_000.0, MAX_TOKENS_PER_CHUNK),
    ],
)
def test_a_chunk_carries_half_a_flush_intervals_tokens(tokens_per_s, expected):
    pace = StreamPace(FLUSH_S)
    pace.observe(300, tokens_per_s)
    assert pace.tokens_per_chunk == expected


def test_short_or_unmeasured_answers_teach_nothing():
    pace = StreamPace(FLUSH_S)
    pace.observe(MIN_TOKENS - 1, 5_000.0)  # a burst of a few tokens: its rate is noise
    pace.observe(None, 300.0)  # the server sent no usage
    pace.observe(300, None)  # no time after the first token
    assert pace.tokens_per_chunk == 1


def test_the_median_of_recent_answers_sets_the_pace():
    pace = StreamPace(FLUSH_S)
    for rate in (200.0, 200.0, 5_000.0):  # one odd answer does not move it
        pace.observe(300, rate)
    assert pace.tokens_per_chunk == 5
    for _ in range(WINDOW):  # the engine got slow (a busy server): so does the pace
        pace.observe(300, 120.0)
    assert pace.tokens_per_chunk == 3


def test_a_fixed_number_wins_and_no_flush_means_a_chunk_per_token():
    fixed = StreamPace(FLUSH_S, fixed_tokens=4)
    assert fixed.tokens_per_chunk == 4
    fixed.observe(300, 1_000.0)
    assert fixed.tokens_per_chunk == 4
    every_token = StreamPace(0.0)  # STREAM_FLUSH_MS=0: every token is shown on its own
    every_token.observe(300, 1_000.0)
    assert every_token.tokens_per_chunk == 1


async def _ask(client: ChatClient) -> None:
    async with client.stream(
        [{"role": "user", "content": "hi"}], defaults_for(False), thinking=False
    ) as events:
        async for _ in events:
            pass


async def test_the_request_carries_stream_interval_once_the_pace_is_known():
    fake = FakeVllm(
        lambda body: fake.stream(
            [chunk(content="ok", finish="stop"), usage_chunk(prompt=1, completion=1)]
        )
    )
    client = ChatClient(Config(max_retries=0), http_client=fake.client())
    await _ask(client)
    assert "stream_interval" not in fake.requests[-1]  # vLLM's default: a chunk per token
    client.pace.observe(256, 265.0)
    await _ask(client)
    assert fake.requests[-1]["stream_interval"] == 6
    fixed = ChatClient(Config(max_retries=0, stream_interval_tokens=4), http_client=fake.client())
    await _ask(fixed)
    assert fake.requests[-1]["stream_interval"] == 4
