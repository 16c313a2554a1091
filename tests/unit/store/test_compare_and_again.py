"""Comparisons and answers replaced by "Again", read back from stored steps: the model's
history as it was live, and both exports."""

from __future__ import annotations

import json

from backend.chat.saved import entries_from, rebuild_history
from backend.store.export import to_json, to_markdown
from backend.store.transcript import read_thread
from tests.support.stored_steps import (
    answer,
    clock,
    compare,
    note,
    reasoning,
    run,
    side,
    thread,
    user,
)

NOW = "2026-12-01T11:00:00Z"
THINK = side("think", "Paris, by reasoning.", reasoning="France's capital is Paris.")
FAST = side("no_think", "Paris.")


def compared(kept="think", **kw):
    t = clock()
    return [
        user(t, "u1", "Capital of France?", command="Compare"),
        run(t, "r1", "u1"),
        compare(t, "c1", [THINK, FAST], kept=kept, question="Capital of France?", **kw),
        user(t, "u2", "And Italy?"),
        run(t, "r2", "u2"),
        reasoning(t, "s2", "Italy: Rome."),
        answer(t, "a2", "Rome."),
    ]


def answered_again():
    t = clock()
    return [
        user(t, "u1", "Pick a number"),
        run(t, "r1", "u1", feedback=0, comment="Seven is too big"),  # thumbs rate the run
        reasoning(t, "s1", "Old thoughts."),
        answer(t, "a1", "Seven.", replaced=True, parent="r1"),
        note(t, "n1", "Task manually stopped."),
        run(t, "r2", "u1"),  # each answer again runs in a run of its own
        reasoning(t, "s2", "New thoughts."),
        answer(t, "a2", "Three.", stats="first token 90 ms", parent="r2"),
        run(t, "r3", "u1"),
        answer(t, "a3", "Four.", mode="No think", stats="first token 30 ms", parent="r3"),
    ]


def history_of(steps):
    return [(m["role"], m["content"]) for m in rebuild_history(thread(steps)).messages()]


def test_the_kept_side_of_a_comparison_is_in_the_history_and_nothing_else_of_it():
    assert history_of(compared()) == [
        ("user", "Capital of France?"),
        ("assistant", "Paris, by reasoning."),
        ("user", "And Italy?"),
        ("assistant", "Rome."),
    ]
    assert history_of(compared(kept="no_think"))[1] == ("assistant", "Paris.")
    assert "France's capital" not in str(history_of(compared()))  # never the reasoning


def test_a_comparison_that_never_finished_is_not_an_answer():
    steps = compared(final=False)
    assert history_of(steps)[:2] == [("user", "And Italy?"), ("assistant", "Rome.")]
    exchange = read_thread(thread(steps)).exchanges[0]
    assert exchange.answer is None and exchange.compare is not None
    assert not exchange.compare.final


def test_a_comparison_saved_with_its_kept_answer_only_still_counts():
    t = clock()
    older = compare(t, "c1", [])
    older["metadata"] = json.dumps({"compare": {"id": "x", "kept": "no_think", "kept_answer": "P"}})
    steps = [user(clock(), "u1", "Capital?", command="Compare"), older]
    assert history_of(steps) == [("user", "Capital?"), ("assistant", "P")]


def test_answering_again_keeps_only_the_latest_answer_for_the_model():
    assert history_of(answered_again()) == [("user", "Pick a number"), ("assistant", "Four.")]
    exchange = read_thread(thread(answered_again())).exchanges[0]
    assert [a.answer.text for a in exchange.replaced] == ["Seven.", "Three."]
    assert [b["text"] for b in exchange.replaced[0].reasoning] == ["Old thoughts."]
    assert [b["text"] for b in exchange.replaced[1].reasoning] == ["New thoughts."]
    assert exchange.reasoning == [] and exchange.notes == ["Task manually stopped."]
    entries = entries_from(read_thread(thread(answered_again())))
    assert entries[0].step_ids == ["r1", "s1", "a1", "n1", "r2", "s2", "a2", "r3", "a3"]


def test_markdown_shows_both_sides_with_mode_stats_and_folded_reasoning():
    md = to_markdown(read_thread(thread(compared(kept="no_think", feedback=1))), NOW)
    assert "## You · Compare" in md
    assert "the conversation continued from the No think answer.* 👍" in md
    assert "### Think\n" in md and "### No think · kept\n" in md
    assert "<details><summary>Thought for 2.5 s</summary>" in md
    think, fast = md.index("### Think\n"), md.index("### No think · kept")
    assert think < md.index("France's capital") < md.index("Paris, by reasoning.") < fast
    assert "*first token 120 ms · 30 reasoning tokens · 12 answer tokens · 12.5 tok/s" in md
    assert "*first token 40 ms · 20 answer tokens · 16.0 tok/s · total 1.25 s*" in md
    assert md.count("</details>") == 2  # the comparison's reasoning, then Italy's


def test_markdown_shows_a_side_that_failed_or_stopped():
    failed = side("no_think", "", status="error", error="The server said no.")
    stopped = side("think", "Par", reasoning="hmm", status="stopped")
    t = clock()
    steps = [user(t, "u1", "q", command="Compare"), compare(t, "c1", [stopped, failed])]
    md = to_markdown(read_thread(thread(steps)), NOW)
    assert "*Stopped.*" in md and "*The server said no.*" in md and "*(no answer)*" in md


def test_json_has_both_sides_and_which_one_was_kept():
    doc = json.loads(to_json(read_thread(thread(compared(kept="no_think"))), NOW))
    first = doc["exchanges"][0]
    assert first["answer"]["text"] == "Paris." and first["answer"]["mode"] == "Compare"
    assert first["answer"]["kept"] == "no_think" and first["reasoning"] == []
    sides = {s["key"]: s for s in first["compare"]["sides"]}
    assert first["compare"]["kept"] == "no_think" and first["compare"]["finished"] is True
    assert sides["no_think"]["kept"] is True and sides["think"]["kept"] is False
    assert sides["think"]["reasoning"] == "France's capital is Paris."
    assert sides["think"]["stats"]["ttft_ms"] == 120 and sides["think"]["answer"]
    assert "compare" not in doc["exchanges"][1]


def test_markdown_folds_replaced_answers_above_the_one_that_replaced_them():
    md = to_markdown(read_thread(thread(answered_again())), NOW)
    assert md.count("### Assistant") == 1 and "### Assistant\n\nFour." in md
    assert "<details><summary>Replaced answer · Think 👎</summary>" in md
    assert "<details><summary>Replaced answer · Think</summary>" in md
    assert md.index("Seven.") < md.index("> Feedback: Seven is too big") < md.index("Three.")
    assert md.index("Three.") < md.index("### Assistant\n\nFour.")
    assert "Old thoughts." not in md and "Replaced by the answer below" not in md


def test_json_has_the_latest_answer_and_the_replaced_ones_with_their_reasoning():
    doc = json.loads(to_json(read_thread(thread(answered_again())), NOW))
    exchange = doc["exchanges"][0]
    assert exchange["answer"]["text"] == "Four." and exchange["answer"]["mode"] == "No think"
    old, middle = exchange["replaced"]
    assert old["answer"]["text"] == "Seven." and old["answer"]["replaced"] is True
    assert old["answer"]["feedback"]["value"] == 0
    assert [b["text"] for b in old["reasoning"]] == ["Old thoughts."]
    assert middle["answer"]["text"] == "Three." and exchange["reasoning"] == []
