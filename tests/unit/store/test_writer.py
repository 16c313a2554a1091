"""The write queue's coalescing: a keyed write replaces a queued one with the same key, one
already handed to the database still lands before it, and the numbering never changes. A
held write (a step still streaming) waits for the state that replaces it, and never lands
after a later write of its conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from backend.store.writer import WriteQueue


def recorder(applied: list[str]):
    def write(name: str):
        async def run() -> None:
            applied.append(name)

        return run

    return write


async def until(condition: Callable[[], bool], limit_s: float = 1.0) -> None:
    """Wait for the writer (and its timers) to get there, up to ``limit_s``."""
    for _ in range(int(limit_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_only_the_latest_queued_write_per_key_runs():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    queue.submit("create", write("s1 created"), key="step:s1")
    queue.submit("create", write("s2 created"), key="step:s2")
    queue.submit("thread", write("thread"))
    queue.submit("update", write("s1 streamed"), key="step:s1")
    queue.submit("update", write("s1 final"), key="step:s1")
    assert await queue.drain(5)
    assert applied == ["s2 created", "thread", "s1 final"]
    assert (queue.superseded, queue.done, queue.submitted) == (2, 5, 5)
    await queue.close()


async def test_a_batch_in_flight_keeps_its_write_and_the_newer_one_follows():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    release, started = asyncio.Event(), asyncio.Event()

    async def batch(runs) -> None:
        started.set()
        await release.wait()
        for run in runs:
            await run()

    queue.batch = batch
    queue.submit("create", write("s1 created"), key="step:s1")
    queue.submit("thread", write("thread"))
    await asyncio.wait_for(started.wait(), 5)
    queue.submit("update", write("s1 final"), key="step:s1")
    release.set()
    assert await queue.drain(5)
    assert applied == ["s1 created", "thread", "s1 final"]
    await queue.close()


async def test_a_held_state_replaced_by_the_final_one_is_never_written():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    queue.submit("question", write("q"), key="step:q", group="t1")
    queue.submit("create", write("run open"), key="step:run", group="t1", hold=True)
    queue.submit("create", write("thinking open"), key="step:th", group="t1", hold=True)
    assert queue.held == 2
    queue.submit("update", write("thinking final"), key="step:th", group="t1")
    queue.submit("create", write("answer"), key="step:a", group="t1")
    queue.submit("update", write("run final"), key="step:run", group="t1")
    assert await queue.drain(5)
    # The run's open state entered the queue before the thinking step's final one (a
    # parent before its child); whether it was written depends on the writer's timing.
    assert applied[0] == "q" and applied[-1] == "run final"
    assert "thinking open" not in applied
    assert [a for a in applied if a != "run open"] == ["q", "thinking final", "answer", "run final"]
    assert (queue.held, queue.done, queue.submitted) == (0, queue.submitted, queue.submitted)
    await queue.close()


async def test_a_write_of_the_conversation_takes_its_held_writes_along_in_order():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    queue.submit("create", write("run open"), key="step:run", group="t1", hold=True)
    queue.submit("create", write("other open"), key="step:x", group="t2", hold=True)
    queue.submit("create", write("thinking open"), key="step:th", group="t1", hold=True)
    queue.submit("delete", write("t1 deleted after"), group="t1")
    await until(lambda: queue.done == queue.submitted)
    assert applied == ["run open", "thinking open", "t1 deleted after"]
    assert queue.held == 1  # the other conversation's step still waits
    await queue.close()


async def test_a_held_state_is_written_after_the_hold_when_nothing_replaces_it():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01, hold_s=0.05)
    queue.submit("create", write("open"), key="step:s", group="t1", hold=True)
    queue.submit("update", write("still open"), key="step:s", group="t1", hold=True)
    await until(lambda: bool(applied))
    assert applied == ["still open"] and queue.superseded == 1 and queue.held == 0
    await queue.close()


async def test_drain_writes_held_states_and_forget_drops_deleted_ones():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    queue.submit("create", write("kept"), key="step:k", group="t1", hold=True)
    queue.submit("create", write("step deleted"), key="step:d", group="t1", hold=True)
    queue.submit("create", write("thread deleted"), key="step:x", group="t2", hold=True)
    queue.forget(key="step:d")
    queue.forget(group="t2")
    assert await queue.drain(5)
    assert applied == ["kept"] and queue.held == 0
    await queue.close()


async def test_a_parent_closing_before_its_child_does_not_release_the_child():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    queue.submit("create", write("run open"), key="step:run", group="t1", hold=True)
    queue.submit("create", write("child open"), key="step:c", group="t1", hold=True)
    queue.submit("update", write("run final"), key="step:run", group="t1")
    assert queue.held == 1  # the child, held after the run, still waits for its final state
    queue.submit("update", write("child final"), key="step:c", group="t1")
    assert await queue.drain(5)
    assert applied == ["run final", "child final"]
    await queue.close()


async def test_saved_says_when_the_writes_so_far_are_applied_or_cannot_be():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(retry_delays_s=(0.05,), settle_s=0.01)
    queue.submit("question", write("q"))
    assert await queue.saved(queue.submitted, 5) is True and applied == ["q"]
    assert await queue.saved(queue.submitted, 5) is True  # already there: at once

    async def outage() -> None:
        raise OSError("disk I/O error")

    queue.submit("answer", outage)
    queue.submit("later", write("later"))
    assert await queue.saved(queue.submitted, 5) is False  # told at the first failure
    assert queue.problem == "disk I/O error"
    assert await queue.saved(queue.submitted, 0.05) is False  # still unhealthy: at once
    await queue.close()


async def test_saved_gives_up_after_its_time_and_forgets_the_wait():
    queue = WriteQueue(settle_s=0.01)
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    queue.submit("slow", slow)
    assert await queue.saved(queue.submitted, 0.05) is None
    release.set()
    assert await queue.saved(queue.submitted, 5) is True
    assert queue._watchers == []  # the one that gave up went when its writes landed
    await queue.close()


async def test_draining_one_conversation_leaves_the_others_held():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(settle_s=0.01)
    queue.submit("create", write("t1 run open"), key="step:r1", group="t1", hold=True)
    queue.submit("create", write("t2 run open"), key="step:r2", group="t2", hold=True)
    assert await queue.drain(5, group="t1")  # an export of t1
    assert applied == ["t1 run open"] and queue.held == 1
    queue.submit("update", write("t2 run final"), key="step:r2", group="t2")
    assert await queue.drain(5)
    assert applied == ["t1 run open", "t2 run final"]  # t2's opening state never written
    await queue.close()


async def test_content_postgresql_refuses_is_dropped_not_retried_forever():
    applied: list[str] = []
    write = recorder(applied)
    queue = WriteQueue(retry_delays_s=(0.01,), settle_s=0.01)

    class AdapterError(Exception):  # asyncpg's errors, as SQLAlchemy's adapter passes them on
        def __init__(self, sqlstate: str) -> None:
            super().__init__(f"error {sqlstate}")
            self.sqlstate = sqlstate

    def failing(sqlstate: str):
        async def run() -> None:
            raise DBAPIError("UPDATE threads …", {}, AdapterError(sqlstate))

        return run

    queue.submit("update_thread", failing("22P05"))  # unsupported Unicode escape sequence
    queue.submit("question", write("q"))
    assert await queue.drain(5)
    assert (queue.dropped, applied, queue.healthy) == (1, ["q"], True)
    queue.submit("update_thread", failing("08006"))  # the connection failed: an outage
    await until(lambda: not queue.healthy)
    assert queue.dropped == 1 and not queue.healthy
    await queue.close()


async def test_landed_waits_for_a_conversations_queued_writes_not_its_held_ones():
    applied: list[str] = []
    write, queue = recorder(applied), WriteQueue(retry_delays_s=(0.05,), settle_s=0.2)
    queue.submit("question", write("t1 question"), group="t1")
    queue.submit("thinking", write("t1 thinking open"), key="step:s1", group="t1", hold=True)
    assert applied == []  # the writer is still settling
    assert await queue.landed("t1", 5) is True
    assert applied == ["t1 question"] and queue.held == 1  # a state not final yet waits on
    assert await queue.landed("t2", 0) is True  # nothing of t2 queued: at once

    async def outage() -> None:
        raise OSError("disk I/O error")

    queue.submit("answer", outage, group="t1")
    assert await queue.landed("t1", 5) is False  # the database is failing: no waiting on it
    await queue.close()
