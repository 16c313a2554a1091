"""The data layer's values made storable, and its step statement."""

from backend.store.sql import add_step_extras, clean_text, clean_value, step_upsert


def test_nul_characters_go_and_lone_surrogates_become_replacement_characters():
    assert clean_text("plain ascii") == "plain ascii"
    assert clean_text("a\x00b\x00") == "ab"
    assert clean_text("naïve\x00 \ud800!") == "naïve \ufffd\ufffd\ufffd!"  # its 3 bytes
    assert clean_value({"k": "a\x00"}) == '{"k": "a\\u0000"}'  # JSON text: escaped, kept


def test_steps_of_one_shape_share_one_statement():
    first, params = step_upsert({"id": "a", "threadId": "t", "output": "x", "metadata": {}})
    second, _ = step_upsert({"id": "b", "threadId": "t", "output": "y", "metadata": {"n": 1}})
    other, _ = step_upsert({"id": "c", "threadId": "t", "input": "q", "metadata": {}})
    assert first is second and first != other
    assert params == {
        "id": "a",
        "threadId": "t",
        "output": "x",
        "metadata": "{}",
        "generation": "{}",
    }
    assert first.startswith('INSERT INTO steps ("id", "threadId", "output", "metadata"')
    assert 'DO UPDATE SET "threadId" = :threadId' in first
    assert first.endswith('WHERE steps."threadId" = excluded."threadId"')


def test_a_messages_mode_label_and_budget_pick_are_put_back_into_its_step():
    steps = [{"id": "q1"}, {"id": "a1", "command": None}, {"id": "q2", "command": "Think"}]
    rows = [
        {"id": "q1", "command": "Think · budget 1k", "modes": '{"thinking_budget": "1k"}'},
        {"id": "q2", "command": "", "modes": "not json"},
    ]
    add_step_extras(steps, rows)
    assert steps == [
        {"id": "q1", "command": "Think · budget 1k", "modes": {"thinking_budget": "1k"}},
        {"id": "a1", "command": None},
        {"id": "q2", "command": "Think"},
    ]
    add_step_extras(steps, 0)  # a failed read: nothing changes
    assert steps[0]["modes"] == {"thinking_budget": "1k"}
