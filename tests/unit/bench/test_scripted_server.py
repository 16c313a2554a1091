"""The scripted server's chunking: its own, and a request's stream_interval served as vLLM
serves it (the first token alone, then full chunks sent when their last token is made)."""

import argparse

from bench.scripted_server import FixedShapeServer
from tests.support.fake_openai_server import Script


def chunks(tokens_per_chunk: int, tokens: int, interval: int) -> list[tuple[int, int, int]]:
    args = argparse.Namespace(tokens_per_chunk=tokens_per_chunk)
    return FixedShapeServer(Script(0.02, 0.001), args)._chunks(tokens, interval)


def test_its_own_chunks_when_the_request_asks_for_no_more():
    assert chunks(4, 10, 1) == [(0, 4, 0), (4, 8, 4), (8, 10, 8)]
    assert chunks(4, 10, 4) == chunks(4, 10, 1)


def test_a_stream_interval_as_vllm_sends_it():
    assert chunks(1, 10, 4) == [(0, 1, 0), (1, 5, 4), (5, 9, 8), (9, 10, 9)]
    assert chunks(4, 3, 16) == [(0, 1, 0), (1, 3, 2)]
