"""The write queue's coalescing: a keyed write replaces a queued one with the same key, one
already handed to the database still lands before it, and the numbering never changes."""

from __future__ import annotations

import asyncio

from backend.store.writer import WriteQueue


def recorder(applied: list[str]):
    def write(name: str):
        async def run() -> None:
            applied.append(name)

        return run

    return write


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
