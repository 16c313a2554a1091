"""A thread update is one statement (sql.thread_upsert), with the result of Chainlit's own
update_thread (a read, a merge in Python, a write): the same random calls, applied by both
to two threads on real SQLite and PostgreSQL, leave the same rows."""

from __future__ import annotations

import json
import random

import pytest
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.user import User

from backend.store.database import prepare
from backend.store.layer import StoreDataLayer

KEYS = [
    "name",
    "name",
    "settings",
    "chat_profile",
    "a.b",
    "$[0]",
    "naïve 中文",
    'say "hi"',
    "back\\slash",
]
VALUES = [None, "text", "", 5, 1.5, True, False, [1, "a"], {"t": 0.6, "n": None}, {"d": {"a": 1}}]


@pytest.fixture
async def layer(config):
    database = prepare(config)
    assert database.ok, database.problem
    data_layer = StoreDataLayer(database)
    yield data_layer
    await data_layer.close()


def random_call(rng: random.Random, users: list[str]) -> dict:
    metadata = None
    if rng.random() < 0.8:
        metadata = {}
        for key in rng.sample(KEYS, rng.randint(0, 3)):
            value = rng.choice(VALUES)
            metadata[key] = rng.choice([None, "Renamed"]) if key == "name" else value
    return {
        "name": rng.choice([None, None, "Chat", ""]),
        "user_id": rng.choice([None, None, *users]),
        "metadata": metadata,
        "tags": rng.choice([None, None, [], ["demo"]]),
    }


async def row(layer: StoreDataLayer, thread_id: str) -> dict:
    query = (
        'SELECT "name", "userId", "userIdentifier", "tags", "metadata", "createdAt" '
        'FROM threads WHERE "id" = :id'
    )
    rows = await layer.execute_sql(query, {"id": thread_id})
    assert isinstance(rows, list)
    if not rows:
        return {}
    stored = dict(rows[0])
    stored["metadata"] = json.loads(stored["metadata"])
    stored["createdAt"] = stored["createdAt"] is not None
    return stored


@pytest.mark.parametrize("seed", range(6))
async def test_one_statement_leaves_what_chainlits_update_leaves(layer, seed):
    rng = random.Random(seed)
    users = [(await layer.create_user(User(identifier=who))).id for who in ("ann", "bob")]
    for n in range(60):
        call = random_call(rng, users)
        await SQLAlchemyDataLayer.update_thread(layer, f"chainlit-{seed}", **call)
        await layer.update_thread(f"ours-{seed}", **call)
        expected, got = await row(layer, f"chainlit-{seed}"), await row(layer, f"ours-{seed}")
        assert got == expected, (n, call)


async def test_stored_metadata_that_is_no_json_object_counts_as_empty(layer):
    await layer.update_thread("t1", name="Chat", metadata={"settings": {"t": 1}})
    await layer.execute_sql('UPDATE threads SET "metadata" = :m', {"m": "[1, 2]"})
    await layer.update_thread("t1", metadata={"env": "demo"})
    assert await row(layer, "t1") == {
        "name": "Chat",
        "userId": None,
        "userIdentifier": None,
        "tags": None,
        "metadata": {"env": "demo"},
        "createdAt": True,
    }


async def queued_update(layer: StoreDataLayer, thread_id: str, metadata: dict) -> None:
    """A thread update as a chat session makes it: through the write queue."""
    call = {"name": None, "user_id": None, "metadata": metadata, "tags": None}
    layer._submit("update_thread", StoreDataLayer._update_thread, thread_id, **call)
    assert await layer.writes.drain(30)
    assert layer.writes.healthy and layer.writes.dropped == 0


async def test_values_no_database_reads_as_json_are_stored_cleaned(layer):
    # NaN (a settings value a client can send), a NUL and a lone surrogate (a system prompt).
    odd = {"t": float("nan"), "top": float("inf"), "prompt": "sys\x00tem \ud800"}
    await queued_update(layer, "t1", {"settings": odd, "keep": 1})
    await queued_update(layer, "t1", {"more": 2})  # merged with what is stored
    stored = await row(layer, "t1")
    assert stored["metadata"] == {
        "settings": {"t": None, "top": None, "prompt": "system \ufffd\ufffd\ufffd"},
        "keep": 1,
        "more": 2,
    }


async def test_stored_metadata_the_database_cannot_read_is_merged_in_python(layer):
    await layer.update_thread("t1", name="Chat")
    bad = '{"keep": 1, "bad": NaN, "nul": "a\\u0000b"}'  # written by an older version
    await layer.execute_sql('UPDATE threads SET "metadata" = :m', {"m": bad})
    await queued_update(layer, "t1", {"more": 2})
    stored = await row(layer, "t1")
    assert stored["metadata"]["keep"] == 1 and stored["metadata"]["more"] == 2
    assert stored["metadata"]["nul"] == "a\x00b" and stored["name"] == "Chat"
