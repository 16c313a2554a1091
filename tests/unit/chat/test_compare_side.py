"""A comparison side's state and record, and which answer the chat keeps by default."""

from __future__ import annotations

from backend.chat.compare_side import Side, default_kept
from backend.server.client import Usage
from backend.server.reasoning import Segment


def _side(thinking=True, reasoning="", answer="") -> Side:
    side = Side("think" if thinking else "no_think", "Think" if thinking else "No think", thinking)
    if reasoning:
        side.add(Segment("reasoning", reasoning))
    if answer:
        side.add(Segment("answer", answer))
    return side


def test_side_moves_from_thinking_to_answering_to_done():
    side = _side()
    assert side.status == "waiting"
    side.add(Segment("reasoning", "Ones: 7 + 6 = 13."))
    assert side.status == "thinking" and side.first_token_at is not None
    side.add(Segment("answer", "It costs $5 and $10."))
    assert side.status == "answering" and side.thinking_s is not None
    side.usage = Usage(prompt_tokens=10, completion_tokens=30, reasoning_tokens=20)
    side.end("done")
    props = side.props()
    assert props["status"] == "done"
    assert props["answer"] == "It costs $5 and $10."  # the raw answer is kept
    assert props["answer_md"] == r"It costs \$5 and \$10."  # what the page renders
    assert props["stats"]["reasoning_tokens"] == 20
    assert props["stats"]["answer_tokens"] == 10
    assert props["stats"]["ttft_ms"] is not None and props["stats"]["total_s"] >= 0


def test_an_ended_side_stays_ended():
    side = _side(answer="partial")
    side.end("error", error="The model server failed (HTTP 500).")
    side.end("stopped")
    assert side.status == "error" and "HTTP 500" in side.props()["error"]


def test_stopped_while_thinking_records_the_thinking_time():
    side = _side(reasoning="so far")
    side.end("stopped")
    assert side.status == "stopped" and side.thinking_s is not None


def test_length_finish_is_noted():
    side = _side(answer="cut")
    side.finish = "length"
    side.end("done")
    assert "cut off" in side.props()["note"]


def test_default_kept_is_the_thinking_answer():
    assert default_kept([_side(True, "r", "a"), _side(False, answer="b")]) == "think"


def test_default_kept_falls_back_when_thinking_gave_no_answer():
    thinking = _side(True, reasoning="only thoughts")
    assert default_kept([thinking, _side(False, answer="b")]) == "no_think"
    assert default_kept([thinking, _side(False)]) == "think"


def test_a_saved_side_comes_back_as_it_was_shown():
    side = _side(reasoning="Ones: 7 + 6 = 13.", answer="It costs $5.")
    side.usage = Usage(prompt_tokens=10, completion_tokens=30, reasoning_tokens=20)
    side.end("done")
    restored = Side.restored(side.record())
    assert restored.props() == side.props()
    assert restored.record() == side.record() and "answer_md" not in side.record()


def test_a_side_saved_while_it_streamed_comes_back_stopped():
    streaming = _side(answer="Half an")
    assert Side.restored(streaming.record()).props()["status"] == "stopped"
