"""A stored conversation read back: exchanges, and the model's history rebuilt from them."""

from __future__ import annotations

import random

from backend.chat.history import ZERO_WIDTH_SPACE
from backend.chat.saved import entries_from, rebuild_history, restore_settings
from backend.store.transcript import SAVED_KEY, read_thread
from tests.support.stored_steps import answer, clock, note, reasoning, run, thread, user


def conversation():
    t = clock()
    return [
        user(t, "u1", "What is the capital of France?"),
        run(t, "r1", "u1"),
        reasoning(t, "s1", "The user asks about France. Paris."),
        answer(t, "a1", "Paris.", feedback=1),
        user(t, "u2", "And of Italy? /no_think"),
        run(t, "r2", "u2"),
        answer(t, "a2", "Rome.", mode="No think"),
    ]


def test_history_keeps_answers_and_drops_reasoning():
    history = rebuild_history(thread(conversation()))
    assert history.messages() == [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},  # the /no_think suffix is not sent
        {"role": "assistant", "content": "Rome."},
    ]
    assert "France. Paris" not in str(history.messages())


def test_answer_text_excludes_the_note_and_stats_line():
    t = clock()
    steps = [user(t, "u1", "Long story"), answer(t, "a1", "Once", note="Stopped.", stopped=True)]
    transcript = read_thread(thread(steps))
    assert transcript.exchanges[0].answer.shown.endswith("*first token 80 ms*")
    assert rebuild_history(thread(steps)).messages()[-1] == {"role": "assistant", "content": "Once"}


def test_order_comes_from_created_at_not_storage_order():
    steps = conversation()
    shuffled = steps[:]
    random.Random(7).shuffle(shuffled)
    assert rebuild_history(thread(shuffled)).messages() == rebuild_history(thread(steps)).messages()


def test_unanswered_commands_notes_and_strangers_are_left_out():
    t = clock()
    steps = [
        note(t, "n0", "History is off."),  # before any question
        user(t, "u1", "", command="Status"),
        note(t, "n1", "Server: ready"),
        user(t, "u2", "hello"),
        note(t, "n2", "The model server is not answering; your message was not sent."),
        user(t, "u3", "hi again", command="No think"),
        answer(t, "a3", "Hi!", mode="No think"),
        note(t, "n3", "Task manually stopped."),  # Chainlit's own message, not an answer
    ]
    assert rebuild_history(thread(steps)).messages() == [
        {"role": "user", "content": "hi again"},
        {"role": "assistant", "content": "Hi!"},
    ]
    transcript = read_thread(thread(steps))
    assert transcript.exchanges[-1].notes == ["Task manually stopped."]


def test_special_tokens_in_stored_text_are_neutralised_again():
    t = clock()
    steps = [user(t, "u1", "say <|im_end|>"), answer(t, "a1", "<think>no</think> ok")]
    contents = [m["content"] for m in rebuild_history(thread(steps)).messages()]
    assert contents == [
        f"say <{ZERO_WIDTH_SPACE}|im_end|>",
        f"<{ZERO_WIDTH_SPACE}think>no<{ZERO_WIDTH_SPACE}/think> ok",
    ]


def test_ledger_lists_every_step_after_each_question():
    entries = entries_from(read_thread(thread(conversation())))
    assert [(e.message_id, e.step_ids) for e in entries] == [
        ("u1", ["r1", "s1", "a1"]),
        ("u2", ["r2", "a2"]),
    ]


def test_feedback_and_reasoning_are_attached_to_their_exchange():
    exchange = read_thread(thread(conversation())).exchanges[0]
    assert exchange.answer.feedback == {"value": 1, "comment": ""}
    assert exchange.reasoning[0]["title"] == "Thought for 1.2 s"


def test_thumbs_given_in_the_chat_rate_the_run_and_belong_to_its_answer():
    t = clock()
    steps = [
        user(t, "u1", "Capital of France?"),
        run(t, "r1", "u1", feedback=0, comment="Too short"),
        reasoning(t, "s1", "Paris."),
        answer(t, "a1", "Paris.", parent="r1"),
        user(t, "u2", "And Italy?"),
        run(t, "r2", "u2"),  # not rated
        answer(t, "a2", "Rome.", parent="r2"),
    ]
    first, second = read_thread(thread(steps)).exchanges
    assert first.answer.feedback == {"value": 0, "comment": "Too short"}
    assert second.answer.feedback is None


def test_a_runs_rating_goes_to_its_last_answer_and_an_answers_own_rating_comes_first():
    t = clock()
    steps = [
        user(t, "u1", "Capital of France?"),
        run(t, "r1", "u1", feedback=1, comment="Good"),
        answer(t, "a1", "Lyon.", parent="r1", replaced=True),
        answer(t, "a2", "Paris.", parent="r1"),
        user(t, "u2", "And Italy?"),
        run(t, "r2", "u2", feedback=1),
        answer(t, "a3", "Rome.", parent="r2", feedback=0),
    ]
    first, second = read_thread(thread(steps)).exchanges
    assert first.replaced[0].answer.feedback is None
    assert first.answer.feedback == {"value": 1, "comment": "Good"}
    assert second.answer.feedback == {"value": 0, "comment": ""}


def test_an_answer_given_again_after_a_later_command_belongs_to_its_own_question():
    """Again under an answer after a Status check: the new run hangs under the answer's
    question, though it comes after the command (time order alone gave it to the command)."""
    t = clock()
    steps = [
        user(t, "u1", "Capital of France?"),
        run(t, "r1", "u1"),
        answer(t, "a1", "Paris.", parent="r1", replaced=True),
        user(t, "u2", "", command="Status"),
        run(t, "r2", "u2"),
        note(t, "n2", "Model server: ready", parent="r2"),
        run(t, "r3", "u1"),
        reasoning(t, "s3", "Again, then.", parent="r3"),
        answer(t, "a3", "Paris, again.", parent="r3"),
    ]
    first, status = read_thread(thread(steps)).exchanges
    assert first.answer is not None and first.answer.text == "Paris, again."
    assert [a.answer.text for a in first.replaced] == ["Paris."]
    assert first.step_ids == ["r1", "a1", "r3", "s3", "a3"]
    assert status.answer is None and status.notes == ["Model server: ready"]
    assert rebuild_history(thread(steps)).messages()[-1]["content"] == "Paris, again."


def test_settings_and_think_are_restored_and_junk_is_clamped():
    saved = {
        "settings": {"temperature": 9, "top_k": 5, "system_prompt": "Be brief."},
        "overridden": ["top_k", "bogus"],
        "think": False,
    }
    state, think = restore_settings(saved)
    assert think is False
    assert state.current.temperature == 2 and state.current.top_k == 5
    assert state.current.system_prompt == "Be brief."
    assert state.overridden == {"top_k"}
    assert restore_settings({})[1] is True  # a conversation saved before: Think on


def test_thread_metadata_may_be_text_or_dict_or_broken():
    steps = conversation()
    assert read_thread(thread(steps, {SAVED_KEY: {"think": False}})).saved == {"think": False}
    broken = thread(steps)
    broken["metadata"] = "{not json"
    assert read_thread(broken).saved == {}
    assert read_thread({"id": "x", "steps": None}).exchanges == []
