"""Write-behind queue: the chat hands over a write and moves on; one task applies them.

Writes run one at a time in the order they were submitted (a step's update never
overtakes its creation). A write that fails because the database is unavailable, locked
or full stays at the head of the queue and is retried with back-off, so nothing is lost
and saving resumes by itself; `healthy` and `problem` say how it is going, and the ids of
the sessions whose writes are waiting are kept for their one notice. A write the database
refuses for its content is retried a few times, then logged and dropped so it cannot hold
up the rest.

Writes that have queued up together (or a single one) are applied in one transaction
(`batch`, given by the data layer); if that fails they are applied one by one, with the
retries above. A batch gathers what comes in for ``settle_s`` (also after a batch, when
more writes wait): under load, one transaction per ``settle_s``, not one per answer.

A write submitted with a ``key`` supersedes a still-queued write with the same key (a
streamed answer's step is created, then updated: only the last state is written). The
older one is left in its place as a no-op, so the queue's order and numbering never change.

A write submitted with ``hold`` is a state that is not final yet (a step that is still
streaming: its text is only known at its end). It does not enter the queue at once: the
write that replaces it (same key) usually comes within seconds, and then only that one is
written. A held write enters the queue when any write of its ``group`` (the conversation)
that is not held is submitted, just before that one (when that write replaces a held write
of its own, only the writes held before that one), so a conversation's writes still land
in the order they were made (a step before its children, everything before a deletion in
the queue); else after ``hold_s`` at the latest, or when the queue is drained. Sequence
numbers are given on entering the queue.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from backend.store.errors import describe, refused

log = logging.getLogger("hybrid_chat.store")
RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)
SETTLE_S = 0.1  # a woken writer waits this long: the answer's first token goes first
HOLD_S = 10.0  # the longest a not-yet-final state waits for the one that replaces it
MAX_BATCH = 64
REFUSED_ATTEMPTS = 3
# Set inside the writer's task: data-layer calls made there go straight to the database.
IN_WRITER: contextvars.ContextVar[bool] = contextvars.ContextVar("in_writer", default=False)


async def _superseded() -> None:
    """What a write becomes when a later one with the same key replaces it."""


@dataclass
class Write:
    seq: int
    label: str
    run: Callable[[], Awaitable[object]]
    session_id: str | None
    key: str | None = None
    group: str | None = None
    attempts: int = 0


class WriteQueue:
    def __init__(
        self,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
        settle_s: float = SETTLE_S,
        hold_s: float = HOLD_S,
    ) -> None:
        self._items: deque[Write] = deque()
        self._latest: dict[str, Write] = {}  # key -> its newest queued write
        # key -> a held write and the timer that releases it, in the order they were held
        self._held: dict[str, tuple[Write, asyncio.TimerHandle]] = {}
        self._hold_s = hold_s
        self.superseded = 0
        self._settle_s = settle_s
        # Runs several writes in one transaction; set by the data layer.
        self.batch: Callable[[list[Callable[[], Awaitable[object]]]], Awaitable[None]] | None = None
        self._retry_delays_s = retry_delays_s
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.submitted = 0
        self.done = 0  # writes applied (or dropped) so far, in order
        self.dropped = 0
        self.healthy = True
        self.problem: str | None = None
        self.waiting_sessions: set[str] = set()
        # Waiting in `saved`: (seq, a tie-breaker, future), the lowest seq first.
        self._watchers: list[tuple[int, int, asyncio.Future[bool]]] = []

    @property
    def pending(self) -> int:
        return len(self._items)

    @property
    def held(self) -> int:
        return len(self._held)

    def submit(
        self,
        label: str,
        run: Callable[[], Awaitable[object]],
        session_id: str | None = None,
        key: str | None = None,
        group: str | None = None,
        *,
        hold: bool = False,
    ) -> None:
        """Queue ``run`` (a coroutine factory), or hold it (``hold``, needs a key). Never waits.

        ``run`` must write the whole state for ``key``: it replaces a queued or held one's.
        """
        write = Write(0, label, run, session_id, key, group)
        if key is not None and (held := self._held.get(key)) is not None:
            self.superseded += 1
            if hold:  # a newer state that is not final either: same place, same deadline
                self._held[key] = (write, held[1])
                return
            if group is not None:  # what was held before it goes first; later ones wait
                self._release(lambda _, earlier: earlier.group == group, until=key)
            del self._held[key]
            held[1].cancel()
            self._enqueue(write)
            return
        if hold and key is not None:
            timer = asyncio.get_running_loop().call_later(self._hold_s, self._release_key, key)
            self._held[key] = (write, timer)
            return
        if group is not None:
            self._release(lambda _, held: held.group == group)
        self._enqueue(write)

    def _enqueue(self, write: Write) -> None:
        self.submitted += 1
        write.seq = self.submitted
        if write.key is not None:
            older = self._latest.get(write.key)
            # One in a running batch still writes (the batch holds its run); the newer
            # write follows it, so the last state wins either way.
            if older is not None and older.run is not _superseded:
                older.run = _superseded
                self.superseded += 1
            self._latest[write.key] = write
        self._items.append(write)
        self._ensure_running().set()

    def _take(self, which: Callable[[str, Write], bool], until: str | None = None) -> list[Write]:
        """Take out the held writes ``which`` picks (by key and write), in the order they
        were held (only those held before ``until``'s, if given); their timers stop."""
        taken = []
        for key, (write, timer) in list(self._held.items()):
            if key == until:
                break
            if which(key, write):
                del self._held[key]
                timer.cancel()
                taken.append(write)
        return taken

    def _release(self, which: Callable[[str, Write], bool], until: str | None = None) -> None:
        """Queue the held writes ``which`` picks (see `_take`)."""
        for write in self._take(which, until):
            self._enqueue(write)

    def _release_key(self, key: str) -> None:
        if (held := self._held.pop(key, None)) is not None:
            self._enqueue(held[0])

    def forget(self, key: str | None = None, group: str | None = None) -> None:
        """Drop held writes for ``key`` or ``group`` without writing them (it was deleted)."""
        self._take(lambda k, w: k == key or (group is not None and w.group == group))

    def _ensure_running(self) -> asyncio.Event:
        """Start the writer task unless it runs; the event that wakes it."""
        if self._wake is None or self._task is None or self._task.done():
            self._wake = asyncio.Event()
            # A fresh context: the writer belongs to no chat session.
            self._task = asyncio.get_running_loop().create_task(
                self._run(self._wake), context=contextvars.Context()
            )
        return self._wake

    async def _run(self, wake: asyncio.Event) -> None:
        IN_WRITER.set(True)
        while True:
            if not self._items:
                wake.clear()
                await wake.wait()
                await asyncio.sleep(self._settle_s)
                continue
            if not await self._apply_batch():
                await self._apply(self._items[0])
            elif 0 < len(self._items) < MAX_BATCH:  # gather more, as a woken writer does
                await asyncio.sleep(self._settle_s)

    async def _apply_batch(self) -> bool:
        """Apply the queued writes in one transaction; False (nothing applied) on failure."""
        batch = [self._items[i] for i in range(min(len(self._items), MAX_BATCH))]
        if self.batch is None or not batch or not self.healthy:
            return False
        try:
            await self.batch([w.run for w in batch if w.run is not _superseded])
        except asyncio.CancelledError:
            raise
        except Exception:
            return False  # one by one now, with retries and the outage bookkeeping
        for _ in batch:
            self._finish(self._items.popleft())
        return True

    async def _apply(self, write: Write) -> None:
        try:
            await write.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            write.attempts += 1
            if refused(exc) and write.attempts >= REFUSED_ATTEMPTS:
                log.error("dropped a %s write the database refuses: %s", write.label, exc)
                self.dropped += 1
            else:
                self._fail(write, exc)
                await asyncio.sleep(self._delay(write.attempts))
                return
        else:
            if not self.healthy:
                log.warning("conversation database is back; saving resumed")
            self.healthy, self.problem = True, None
            self.waiting_sessions.clear()
        self._finish(self._items.popleft())

    def _finish(self, write: Write) -> None:
        self.done = write.seq
        if write.key is not None and self._latest.get(write.key) is write:
            del self._latest[write.key]
        while self._watchers and self._watchers[0][0] <= self.done:
            _tell(heapq.heappop(self._watchers)[2], True)

    async def saved(self, seq: int, timeout_s: float) -> bool | None:
        """Wait until the writes up to ``seq`` are applied (True) or one of them fails to
        (False, the database is unavailable); None after ``timeout_s``. No polling."""
        if self.done >= seq:
            return True
        if not self.healthy:
            return False
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._watchers, (seq, id(future), future))
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None  # its entry goes when its writes land (or fail)

    async def landed(self, group: str, timeout_s: float) -> bool | None:
        """Wait until the queued writes of ``group`` are applied, as `saved` does (held writes
        are not final states: they keep waiting). True at once when none is queued."""
        last = max((w.seq for w in self._items if w.group == group), default=0)
        return await self.saved(last, timeout_s) if last else True

    def _fail(self, write: Write, exc: Exception) -> None:
        if self.healthy:
            log.warning("conversation database write failed (%s); will retry", exc)
        self.healthy = False
        self.problem = describe(exc)
        self.waiting_sessions.update(w.session_id for w in self._items if w.session_id)
        for _, _, future in self._watchers:
            _tell(future, False)
        self._watchers.clear()

    def _delay(self, attempts: int) -> float:
        return self._retry_delays_s[min(attempts, len(self._retry_delays_s)) - 1]

    async def drain(self, timeout_s: float, group: str | None = None) -> bool:
        """Wait until everything submitted so far is applied, held writes too (only those of
        ``group``, if given: the rest keep waiting for their final state); False on timeout."""
        self._release(lambda _, held: group is None or held.group == group)
        target = self.submitted
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.done < target and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return self.done >= target

    async def close(self) -> None:
        self._take(lambda _, __: True)  # stop the timers of anything still held
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass


def _tell(future: asyncio.Future[bool], outcome: bool) -> None:
    if not future.done():  # a watcher that gave up has a cancelled future
        future.set_result(outcome)
