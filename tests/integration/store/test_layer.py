"""The data layer on real SQLite and PostgreSQL: what goes in comes back (odd text
included), writes never make the caller wait, and an outage delays writes, never loses
or doubles them."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.types import Pagination, ThreadFilter
from chainlit.user import User
from sqlalchemy import event

from backend.store.database import prepare, sqlite_path
from backend.store.layer import StoreDataLayer
from backend.store.writer import WriteQueue

ODD = "naïve 👩‍💻 \u202eRTL\u202c 中文 \x00NUL\x00 lone\ud800surrogate"
STORED_ODD = "naïve 👩‍💻 \u202eRTL\u202c 中文 NUL lone\ufffd\ufffd\ufffdsurrogate"


def step(n: int, thread: str = "t1", **extra) -> dict:
    return {
        "id": f"s{n:04d}",
        "threadId": thread,
        "name": "User" if n % 2 else "Qwen3",
        "type": "user_message" if n % 2 else "assistant_message",
        "output": f"message {n}",
        "createdAt": f"2026-12-01T10:{n // 60:02d}:{n % 60:02d}.000000Z",
        "streaming": False,
        "metadata": {"n": n},
        "command": "Think",
        **extra,
    }


@pytest.fixture
async def layer(config):
    database = prepare(config)
    assert database.ok, database.problem
    data_layer = StoreDataLayer(database, WriteQueue(retry_delays_s=(0.05, 0.1, 0.2)))
    yield data_layer
    await data_layer.close()


async def new_thread(layer: StoreDataLayer, thread_id: str = "t1") -> str:
    user = await layer.create_user(User(identifier="alice"))
    await layer.update_thread(thread_id, name="Chat", user_id=user.id)
    return user.id


async def outputs(layer: StoreDataLayer, thread_id: str = "t1") -> dict[str, str]:
    thread = await layer.get_thread(thread_id)
    return {s["id"]: s["output"] for s in (thread or {}).get("steps", [])}


async def test_a_streaming_step_is_stored_once_final_and_a_deleted_one_never(layer):
    await new_thread(layer)
    done = "2026-12-01T10:00:09.000000Z"
    await layer.create_step(step(1, end=done))  # a question: final when sent
    await layer.create_step(step(3, type="llm", output="", end=None))  # thinking opens
    await layer.create_step(step(5, type="llm", output="", end=None))
    await layer.delete_step("s0005")  # deleted while open: its held state is dropped
    await asyncio.sleep(0.5)  # the writer has written what it was given
    assert await outputs(layer) == {"s0001": "message 1"}
    assert layer.writes.held == 1
    await layer.update_step(step(3, type="llm", output="thought", end=done))
    assert await layer.writes.drain(30)
    assert await outputs(layer) == {"s0001": "message 1", "s0003": "thought"}
    assert layer.writes.superseded >= 1 and layer.writes.held == 0


async def test_a_conversation_read_right_after_a_write_shows_it(config):
    database = prepare(config)
    layer = StoreDataLayer(database, WriteQueue(settle_s=1.0))  # a writer slow to start
    try:
        await new_thread(layer)
        await layer.create_step(step(1, end=step(1)["createdAt"]))
        assert await layer.writes.drain(30)  # the writer is up, and idle
        await layer.create_step(step(5, end=step(5)["createdAt"]))  # waits for the writer
        await layer.create_step(step(3, type="llm", output="", end=None))  # streaming: held
        expected = {"s0001": "message 1", "s0005": "message 5"}
        assert await outputs(layer) == expected  # read at once: the read waits for it
        assert layer.writes.held == 1
    finally:
        await layer.close()


async def test_what_goes_in_comes_back_odd_text_and_long_text_included(layer):
    user_id = await new_thread(layer)
    long_text = "x" * 2_000_000
    await layer.create_step(step(1, output=ODD))
    await layer.create_step(step(2, output=long_text, metadata={"note": ODD}))
    await layer.update_step(step(2, output=long_text + "!"))
    assert await layer.writes.drain(30)
    stored = await outputs(layer)
    assert stored == {"s0001": STORED_ODD, "s0002": long_text + "!"}
    thread = await layer.get_thread("t1")
    assert {s["command"] for s in thread["steps"]} == {"Think"}  # Chainlit's query drops it
    listed = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user_id))
    assert [t["id"] for t in listed.data] == ["t1"]
    assert await layer.get_thread("no-such-thread") is None


async def test_every_write_lands_once_in_order(layer):
    await new_thread(layer)
    for n in range(1, 201):
        await layer.create_step(step(n, output=""))
        await layer.update_step(step(n))
    assert await layer.writes.drain(60)
    stored = await outputs(layer)
    assert len(stored) == 200 and set(stored.values()) == {f"message {n}" for n in range(1, 201)}


async def test_an_edit_removes_later_steps_and_their_feedback(layer):
    await new_thread(layer)
    for n in range(1, 7):
        await layer.create_step(step(n))
    assert await layer.writes.drain(30)
    from chainlit.types import Feedback

    await layer.upsert_feedback(Feedback(forId="s0004", value=1, threadId="t1"))
    await layer.delete_steps_after("t1", step(2)["createdAt"], keep=["s0002", "s0005"])
    assert await layer.writes.drain(30)
    assert sorted(await outputs(layer)) == ["s0001", "s0002", "s0005"]
    rows = await layer.execute_sql('SELECT * FROM feedbacks WHERE "forId" = :i', {"i": "s0004"})
    assert rows == []


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
async def test_a_locked_sqlite_database_delays_writes_without_blocking(layer):
    await new_thread(layer)
    path = sqlite_path(layer.database.url)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        for n in range(1, 11):
            await layer.create_step(step(n))
        assert time.monotonic() - started < 0.5  # the busy timeout is 5 s: nobody waited
        await _until(lambda: not layer.writes.healthy, 30)
        assert "locked" in layer.writes.problem
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await layer.writes.drain(60)
    assert layer.writes.healthy and len(await outputs(layer)) == 10


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
async def test_a_full_sqlite_database_delays_writes_until_space_is_back(layer):
    await new_thread(layer)
    await layer.engine.dispose()
    pages = (sqlite_path(layer.database.url).stat().st_size // 4096) + 2

    def limit(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(layer.engine.sync_engine, "connect", limit)
    writer = layer.sqlite_writer  # the queue's own connection, for batches
    assert writer is not None
    writer.pragmas.append(f"PRAGMA max_page_count = {pages}")
    writer.reconnect()
    await layer.create_step(step(1, output="y" * 1_000_000))
    await layer.create_step(step(2))
    await _until(lambda: not layer.writes.healthy, 30)
    assert "full" in layer.writes.problem
    event.remove(layer.engine.sync_engine, "connect", limit)  # space is freed
    writer.pragmas.pop()
    writer.reconnect()
    await layer.engine.dispose()
    assert await layer.writes.drain(60)
    assert sorted(await outputs(layer)) == ["s0001", "s0002"]


@pytest.mark.parametrize("config", ["postgresql"], indirect=True)
async def test_postgresql_going_away_delays_writes_until_it_is_back(layer, pg_server):
    await new_thread(layer)
    await asyncio.to_thread(pg_server.stop)
    try:
        for n in range(1, 6):
            await layer.create_step(step(n))
        await _until(lambda: not layer.writes.healthy, 30)
        assert await layer.get_thread("t1") is None  # a failed read is "not found"
    finally:
        await asyncio.to_thread(pg_server.start)
    assert await layer.writes.drain(60)
    assert layer.writes.healthy and len(await outputs(layer)) == 5


async def _until(predicate, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("config", ["sqlite"], indirect=True)
async def test_a_write_that_waits_for_the_event_loop_is_applied_the_usual_way_once(layer):
    """SQLite batches run in the writer's thread; a write that suspends there is rolled
    back with its batch, and the queue applies the batch's writes one by one instead."""
    await new_thread(layer)

    insert = 'INSERT INTO steps ("id", "threadId", "name", "type") VALUES (:i, :t, :n, :k)'

    async def suspending() -> None:
        # A plain INSERT: written twice (the rolled-back try not undone), it would fail.
        await layer.execute_sql(insert, {"i": "odd", "t": "t1", "n": "odd", "k": "run"})
        await asyncio.sleep(0)  # needs the event loop
        await layer.execute_sql(insert, {"i": "odd2", "t": "t1", "n": "odd", "k": "run"})

    await layer.create_step(step(1))
    layer.writes.submit("suspending", suspending)
    await layer.create_step(step(2))
    assert await layer.writes.drain(30)
    assert sorted(await outputs(layer)) == ["odd", "odd2", "s0001", "s0002"]
    assert layer.writes.healthy and layer.writes.dropped == 0


async def test_a_repeated_login_with_the_same_metadata_writes_nothing(layer):
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(layer.engine.sync_engine, "before_cursor_execute", seen)
    first = await layer.create_user(User(identifier="alice", metadata={"role": "admin"}))
    writes = statements.count("INSERT")
    again = await layer.create_user(User(identifier="alice", metadata={"role": "admin"}))
    assert writes == 1 and statements.count("INSERT") == 1
    assert again is not None and first is not None and again.id == first.id
    changed = await layer.create_user(User(identifier="alice", metadata={"role": "user"}))
    assert statements.count("INSERT") == 2 and changed is not None
    assert changed.id == first.id and changed.metadata == {"role": "user"}


async def test_a_deleted_conversation_stays_deleted_when_its_writes_were_still_queued(layer):
    await new_thread(layer)
    await layer.create_step(step(1, end=step(1)["createdAt"]))  # queued: the writer waits 0.1 s
    await layer.create_step(step(3, type="llm", end=None))  # held: still streaming
    await layer.delete_thread("t1")  # from the sidebar, while the answer is being written
    await layer.update_step(step(3, type="llm", output="thought"))  # the chat goes on
    await layer.update_thread("t1", metadata={"settings": {"t": 1}})
    assert await layer.writes.drain(30)
    assert await layer.get_thread("t1") is None
    rows = await layer.execute_sql('SELECT "id" FROM steps WHERE "threadId" = :t', {"t": "t1"})
    assert rows == []


async def test_a_deletion_that_failed_leaves_the_conversation_saving(layer, monkeypatch):
    await new_thread(layer)

    async def failed(self, thread_id: str) -> None:  # Chainlit logs a failed delete, returns
        return None

    monkeypatch.setattr(SQLAlchemyDataLayer, "delete_thread", failed)
    await layer.delete_thread("t1")
    await layer.create_step(step(1))
    assert await layer.writes.drain(30)
    assert await outputs(layer) == {"s0001": "message 1"}
