import random

import pytest

from backend.server.reasoning import DeltaRouter, Segment, ThinkSplitter

# (output, reasoning_first, expected reasoning, expected answer)
CASES = [
    ("<think>\nadd 7 and 5\n</think>\n\n12", False, "add 7 and 5\n", "12"),
    ("<think>\n\n</think>\n\nHello!", False, "", "Hello!"),
    ("Just an answer.", False, "", "Just an answer."),
    ("  \n<think>x</think>y", False, "x", "y"),
    ("step one</think>\n\nanswer", True, "step one", "answer"),
    ("<think>step</think>answer", True, "step", "answer"),
    ("still thinking when cut", True, "still thinking when cut", ""),
    ("<think>unfinished", False, "unfinished", ""),
    ("a < b and c <th d", False, "", "a < b and c <th d"),
    ("<think>x < y </thin z</think>done", False, "x < y </thin z", "done"),
    ("answer mentions <think> later", False, "", "answer mentions <think> later"),
    ("<think>r</think>a</think>b", False, "r", "a</think>b"),
    ("<thi", False, "", "<thi"),
    ("<think>r</th", False, "r</th", ""),
    ("<think>é🙂 ünï</think>ok 🙂", False, "é🙂 ünï", "ok 🙂"),
    ("", False, "", ""),
]


def _run(chunks, reasoning_first):
    splitter = ThinkSplitter(reasoning_first=reasoning_first)
    segments = []
    for chunk in chunks:
        segments.extend(splitter.feed(chunk))
    segments.extend(splitter.flush())
    return segments


def _join(segments, kind):
    return "".join(s.text for s in segments if s.kind == kind)


def _random_chunks(text, rng):
    chunks, i = [], 0
    while i < len(text):
        size = rng.randint(1, 6)
        chunks.append(text[i : i + size])
        i += size
    return chunks


@pytest.mark.parametrize("output,first,reasoning,answer", CASES)
def test_whole(output, first, reasoning, answer):
    segments = _run([output], first)
    assert _join(segments, "reasoning") == reasoning
    assert _join(segments, "answer") == answer


@pytest.mark.parametrize("output,first,reasoning,answer", CASES)
def test_char_by_char(output, first, reasoning, answer):
    segments = _run(list(output), first)
    assert _join(segments, "reasoning") == reasoning
    assert _join(segments, "answer") == answer


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("output,first,reasoning,answer", CASES)
def test_random_splits(seed, output, first, reasoning, answer):
    segments = _run(_random_chunks(output, random.Random(seed)), first)
    assert _join(segments, "reasoning") == reasoning
    assert _join(segments, "answer") == answer


def test_reasoning_streams_before_the_close_tag_arrives():
    splitter = ThinkSplitter()
    assert splitter.feed("<think>\nfirst") == [Segment("reasoning", "first")]
    assert splitter.in_reasoning
    # A partial close tag is held back, not shown as reasoning.
    assert splitter.feed(" part</thi") == [Segment("reasoning", " part")]
    assert splitter.feed("nk>\n\nans") == [Segment("answer", "ans")]


def test_leading_whitespace_waits_for_a_decision():
    splitter = ThinkSplitter()
    assert splitter.feed("\n\n") == []
    assert splitter.feed("<") == []
    assert splitter.feed("think>r") == [Segment("reasoning", "r")]


def test_router_uses_server_reasoning_field():
    router = DeltaRouter(reasoning_first=True)
    assert router.route(reasoning="\n", content=None) == []
    assert router.route(reasoning="Let me add.", content=None) == [
        Segment("reasoning", "Let me add.")
    ]
    # Once the server splits, content is the answer even if it holds tag text.
    assert router.route(reasoning=None, content="\n\n<think> is a tag") == [
        Segment("answer", "<think> is a tag")
    ]
    assert router.flush() == []


def test_router_falls_back_to_tags_in_content():
    router = DeltaRouter()
    got = router.route(reasoning=None, content="<think>r</think>")
    got += router.route(reasoning=None, content="\n\na")
    got += router.flush()
    assert got == [Segment("reasoning", "r"), Segment("answer", "a")]


def test_router_empty_reasoning_from_server_shows_nothing():
    router = DeltaRouter()
    segments = router.route(reasoning="\n\n", content=None)
    segments += router.route(reasoning=None, content="\n\nHi")
    assert segments == [Segment("answer", "Hi")]
