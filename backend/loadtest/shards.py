"""One level driven from one process or spread over N client processes, merged into one run.

One Python process cannot keep an H200 busy: its event loop parses every streamed chunk (the
openai SDK, or socket.io for the app), about 8-9k chunks/s per core, while an H200 streams
20k+ tokens/s at 256 streams; at 64 streams one process held only 18 requests running.

``slice_level`` deals a level's requests round-robin over N slices (each keeps its arrival
offsets for the open loop) and splits the concurrency, the ``max_concurrency`` cap and the
warm-up evenly. ``run_level`` runs one slice in this process, or each slice in a spawned
process that opens its own target from a ``TargetSpec``, warms up, waits at a barrier, then
runs the load tester's own closed or open loop. The raw ``RequestResult``s come back and are
merged (``merge_runs``: all results, wall time from the first start to the last end on the
shared ``CLOCK_MONOTONIC``), so the pure ``summarize`` sees one level.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue as queues
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from backend.loadtest.metrics import RequestResult
from backend.loadtest.runner import LevelRun, ServerSampler, run_closed_loop, run_open_loop
from backend.loadtest.targets import Target, TargetSpec, open_target
from backend.loadtest.workload import RequestSpec

BARRIER_TIMEOUT_S = 900.0
PROGRESS_PERIOD_S = 0.25
JOIN_TIMEOUT_S = 30.0
Progress = Callable[[int], None]  # requests finished since the last call
Opener = Callable[[TargetSpec], AbstractAsyncContextManager[Target]]


@dataclass(frozen=True)
class Slice:
    """One process's share of a level."""

    specs: tuple[RequestSpec, ...]
    warmup: tuple[RequestSpec, ...] = ()
    concurrency: int | None = None  # closed loop
    offsets_s: tuple[float, ...] | None = None  # open loop
    max_concurrency: int | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class ShardRun:
    start_s: float
    end_s: float
    results: tuple[RequestResult, ...]


def split_evenly(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def slice_level(
    specs: Sequence[RequestSpec],
    processes: int,
    *,
    warmup: Sequence[RequestSpec] = (),
    concurrency: int | None = None,
    offsets_s: Sequence[float] | None = None,
    max_concurrency: int | None = None,
    duration_s: float | None = None,
) -> list[Slice]:
    """At most ``processes`` slices, never more than the streams or the requests."""
    n = max(1, min(processes, len(specs) or 1, concurrency or processes))
    streams = split_evenly(concurrency, n) if concurrency else [None] * n
    caps = split_evenly(max_concurrency, n) if max_concurrency else [None] * n
    return [
        Slice(
            specs=tuple(specs[i::n]),
            warmup=tuple(warmup[i::n]),
            concurrency=streams[i],
            offsets_s=None if offsets_s is None else tuple(offsets_s[i::n]),
            max_concurrency=None if (cap := caps[i]) is None else max(cap, 1),
            duration_s=duration_s,
        )
        for i in range(n)
    ]


def merge_runs(runs: Sequence[ShardRun]) -> LevelRun:
    """Every result of every slice, over the wall time from the first start to the last end."""
    results = tuple(r for run in runs for r in run.results)
    if not runs:
        return LevelRun(results, 0.0)
    return LevelRun(results, max(r.end_s for r in runs) - min(r.start_s for r in runs))


async def warm_up(target: Target, part: Slice) -> None:
    if part.warmup:
        streams = part.concurrency or part.max_concurrency or len(part.warmup)
        await run_closed_loop(target.send, part.warmup, min(len(part.warmup), streams))


async def drive(target: Target, part: Slice, on_done: Any = None) -> LevelRun:
    if part.offsets_s is None:
        return await run_closed_loop(
            target.send,
            part.specs,
            part.concurrency or 1,
            duration_s=part.duration_s,
            on_done=on_done,
        )
    return await run_open_loop(
        target.send,
        part.specs,
        part.offsets_s,
        duration_s=part.duration_s,
        max_concurrency=part.max_concurrency,
        on_done=on_done,
    )


async def run_level(
    target: TargetSpec,
    slices: Sequence[Slice],
    sampler: ServerSampler,
    progress: Progress,
    opener: Opener | None = None,
) -> LevelRun:
    """Warm up, then run the level; ``sampler`` scrapes the server while the level runs.

    ``opener`` replaces ``open_target`` (a bench sending its own requests); it runs in this
    process only."""
    if len(slices) == 1:
        async with (opener or open_target)(target) as opened:
            await warm_up(opened, slices[0])
            async with sampler:
                return await drive(opened, slices[0], lambda _result: progress(1))
    if opener is not None:
        raise ValueError("a custom target runs in one process only (use --processes 1)")
    return await _run_processes(target, slices, sampler, progress)


async def _shard(target: TargetSpec, part: Slice, barrier: Any, done: Any) -> ShardRun:
    def finished(_result: RequestResult) -> None:
        with done.get_lock():
            done.value += 1

    async with open_target(target) as opened:
        await warm_up(opened, part)
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait, BARRIER_TIMEOUT_S)
        start = time.perf_counter()  # CLOCK_MONOTONIC: one clock for every process
        run = await drive(opened, part, finished)
        return ShardRun(start, time.perf_counter(), run.results)


def _worker(target: TargetSpec, part: Slice, barrier: Any, queue: Any, done: Any) -> None:
    try:
        queue.put(asyncio.run(_shard(target, part, barrier, done)))
    except BaseException as exc:  # the parent must hear about it, not wait forever
        barrier.abort()
        queue.put(f"{type(exc).__name__}: {exc}")


async def _run_processes(
    target: TargetSpec, slices: Sequence[Slice], sampler: ServerSampler, progress: Progress
) -> LevelRun:
    ctx = mp.get_context("spawn")
    barrier, queue, done = ctx.Barrier(len(slices) + 1), ctx.Queue(), ctx.Value("i", 0)
    procs = [ctx.Process(target=_worker, args=(target, s, barrier, queue, done)) for s in slices]
    for proc in procs:
        proc.start()
    try:
        await _start(barrier, procs, queue)
        async with sampler:
            outcomes = await _collect(queue, procs, done, progress)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, _stop, procs)
    failures = [o for o in outcomes if not isinstance(o, ShardRun)]
    if failures:
        raise RuntimeError(f"a client process failed: {failures[0]}")
    return merge_runs(outcomes)


def _stop(procs: Sequence[Any]) -> None:
    """Let each process finish (a broken barrier ends them too), else terminate it."""
    for proc in procs:
        proc.join(timeout=JOIN_TIMEOUT_S)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=JOIN_TIMEOUT_S)


async def _start(barrier: Any, procs: Sequence[Any], queue: Any) -> None:
    """Wait until every process is warmed up and at the barrier; a process that fails or dies
    before (an error, a crash while starting) breaks the barrier, and the reason is raised."""
    loop = asyncio.get_running_loop()
    waiting = loop.run_in_executor(None, barrier.wait, BARRIER_TIMEOUT_S)
    while not waiting.done():
        await asyncio.wait({waiting}, timeout=PROGRESS_PERIOD_S)
        if any(p.exitcode not in (None, 0) for p in procs) and not waiting.done():
            barrier.abort()
    try:
        await waiting
    except threading.BrokenBarrierError:
        codes = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
        if codes:  # died without a word; the others only report the broken barrier
            cause = f"exit code {codes[0]}"
        else:
            try:  # the first process that failed aborted the barrier and put its error
                cause = await loop.run_in_executor(None, queue.get, True, 5.0)
            except queues.Empty:
                cause = f"not ready in {BARRIER_TIMEOUT_S:g} s"
        raise RuntimeError(f"a client process failed before the start: {cause}") from None


async def _collect(queue: Any, procs: Sequence[Any], done: Any, progress: Progress) -> list[Any]:
    """Every process's outcome, reporting finished requests while waiting."""
    loop, seen = asyncio.get_running_loop(), 0
    outcomes: list[Any] = []
    while len(outcomes) < len(procs):
        try:
            outcomes.append(await loop.run_in_executor(None, queue.get, True, PROGRESS_PERIOD_S))
        except queues.Empty:
            killed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if killed:  # a process that dies without a word (killed, out of memory)
                raise RuntimeError(f"a client process exited with code {killed[0]}") from None
        finished = done.value
        if finished > seen:
            progress(finished - seen)
            seen = finished
    return outcomes
