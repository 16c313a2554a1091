"""Drives one load level: closed loop (fixed concurrency) or open loop (arrival schedule).

- Closed loop: ``concurrency`` workers each send their next request as soon as the previous one
  finished, so at most ``concurrency`` requests are ever in flight.
- Open loop: requests start at their scheduled offsets whatever is in flight (optionally capped
  by ``max_concurrency``, as vLLM's ``--max-concurrency``).
- Both stop issuing at ``duration_s`` (if set) and wait for what is in flight; the caller bounds
  every request with the HTTP timeout, so a level always ends.
- While a level runs, the server's ``/metrics`` is sampled every ``interval_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from backend.loadtest.metrics import RequestResult
from backend.loadtest.workload import RequestSpec
from backend.server.metrics import ServerMetrics, fetch_server_metrics

Send = Callable[[RequestSpec], Awaitable[RequestResult]]
OnDone = Callable[[RequestResult], None]


@dataclass(frozen=True)
class LevelRun:
    results: tuple[RequestResult, ...]
    elapsed_s: float


async def run_closed_loop(
    send: Send,
    specs: Sequence[RequestSpec],
    concurrency: int,
    *,
    duration_s: float | None = None,
    on_done: OnDone | None = None,
) -> LevelRun:
    pending = iter(specs)
    results: list[RequestResult] = []
    start = time.perf_counter()
    deadline = start + duration_s if duration_s else None

    async def worker() -> None:
        for spec in pending:  # a shared iterator: each spec goes to exactly one worker
            if deadline is not None and time.perf_counter() >= deadline:
                return
            result = await send(spec)
            results.append(result)
            if on_done:
                on_done(result)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return LevelRun(tuple(results), time.perf_counter() - start)


async def run_open_loop(
    send: Send,
    specs: Sequence[RequestSpec],
    offsets_s: Sequence[float],
    *,
    duration_s: float | None = None,
    max_concurrency: int | None = None,
    on_done: OnDone | None = None,
) -> LevelRun:
    gate = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    results: list[RequestResult] = []

    async def one(spec: RequestSpec) -> None:
        async with gate or contextlib.nullcontext():
            result = await send(spec)
        results.append(result)
        if on_done:
            on_done(result)

    start = time.perf_counter()
    tasks = []
    for spec, offset in zip(specs, offsets_s, strict=False):
        if duration_s is not None and offset >= duration_s:
            break
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the arrival schedule itself, not a wait for a state
        tasks.append(asyncio.create_task(one(spec)))
    await asyncio.gather(*tasks)
    return LevelRun(tuple(results), time.perf_counter() - start)


class ServerSampler:
    """Scrapes ``/metrics`` every ``interval_s`` in the background; failures are counted."""

    def __init__(self, root_url: str, api_key: str | None, interval_s: float = 0.5):
        self.root_url, self.api_key, self.interval_s = root_url, api_key, interval_s
        self.samples: list[ServerMetrics] = []
        self.times_s: list[float] = []  # time.monotonic() at each sample
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        async with httpx.AsyncClient(timeout=max(self.interval_s * 4, 2.0)) as client:
            while True:
                try:
                    sample = await fetch_server_metrics(
                        self.root_url, client=client, api_key=self.api_key
                    )
                    self.samples.append(sample)
                    self.times_s.append(time.monotonic())
                except (httpx.HTTPError, ValueError):
                    self.errors += 1
                await asyncio.sleep(self.interval_s)  # the sampling period

    async def __aenter__(self) -> ServerSampler:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(httpx.HTTPError, ValueError):
            async with httpx.AsyncClient(timeout=2.0) as client:  # one last look at the end
                last = await fetch_server_metrics(
                    self.root_url, client=client, api_key=self.api_key
                )
                self.samples.append(last)
                self.times_s.append(time.monotonic())
