"""Which answer a comparison's choice or an "Again" action may still change."""

from __future__ import annotations

from types import SimpleNamespace

from backend.chat.compare import is_current
from backend.chat.history import History
from backend.chat.regenerate import actions_for


def test_actions_offer_the_same_mode_then_the_other():
    assert [(a.label, a.payload) for a in actions_for(True)] == [
        ("Again (Think)", {"thinking": True}),
        ("Again (No think)", {"thinking": False}),
    ]
    assert [a.payload["thinking"] for a in actions_for(False)] == [False, True]


def test_a_comparison_is_current_until_the_chat_moves_on():
    history = History()
    history.add_user("q")
    view = SimpleNamespace(user_turn=history.turns[-1])
    assert is_current(view, history)  # no answer kept yet (both empty)
    history.add_assistant("kept")
    assert is_current(view, history)
    history.replace_last_answer("the other")
    assert is_current(view, history)
    history.add_user("next question")
    assert not is_current(view, history)
    history.add_assistant("next answer")
    assert not is_current(view, history)


def test_an_equal_question_asked_again_is_another_comparison():
    history = History()
    history.add_user("q")
    view = SimpleNamespace(user_turn=history.turns[-1])
    history.add_assistant("a")
    history.add_user("q")
    history.add_assistant("a")
    assert not is_current(view, history)
