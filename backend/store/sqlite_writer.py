"""The write queue's fast path on SQLite: a whole batch in one trip to one thread.

Through SQLAlchemy's async engine every statement is a round trip between the event loop
and aiosqlite's thread, plus SQLAlchemy's statement handling on the loop; for the handful
of small statements an answer makes, that overhead is most of what saving costs. Here a
batch of queued writes runs in a thread of its own on a plain ``sqlite3`` connection: the
writes are the data layer's usual coroutines, driven to completion in that thread while
`active` tells ``execute_sql`` to use this connection. Nothing in them may wait for the
event loop; one that would raises `Suspended`, the batch rolls back, and the write queue
applies its writes one by one the usual way.

The transaction starts with ``BEGIN IMMEDIATE`` and waits up to the busy timeout for the
lock, as the engine's do (database.py), so several chat workers can share the file. A
``sqlite3`` error comes out as SQLAlchemy's matching exception (``OperationalError`` for a
locked or full database), so the write queue tells an outage from refused content as
before.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

Rows = list[dict[str, Any]]
# Set in the writer thread while a batch runs: execute_sql goes to this connection.
active: contextvars.ContextVar[SqliteWriter | None] = contextvars.ContextVar(
    "sqlite_writer", default=None
)


class Suspended(Exception):
    """A write wanted the event loop; the batch is rolled back and applied the usual way."""


def drive(coroutine: Coroutine[Any, Any, object]) -> object:
    """Run a coroutine that never suspends to its end, here and now."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise Suspended("a queued write waited for the event loop")


class SqliteWriter:
    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        # Run on each new connection; the tests add limits here (max_page_count).
        self.pragmas = ["PRAGMA synchronous = NORMAL"]
        self._connection: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chat-db-writer")

    async def run(self, runs: list[Callable[[], Awaitable[object]]]) -> None:
        """Apply the writes in one transaction in the writer thread; all or nothing."""
        context = contextvars.copy_context()
        await asyncio.get_running_loop().run_in_executor(
            self._thread, context.run, self._batch, runs
        )

    def execute(self, query: str, params: dict[str, Any]) -> Rows | int:
        """One statement on the batch's connection (called through execute_sql)."""
        assert self._connection is not None
        try:
            cursor = self._connection.execute(query, params)
            if cursor.description is None:
                return cursor.rowcount
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(query, params, exc, sqlite3.Error) from exc

    def _batch(self, runs: list[Callable[[], Awaitable[object]]]) -> None:
        connection = self._connection or self._connect()
        token = active.set(self)
        try:
            self.execute("BEGIN IMMEDIATE", {})
            try:
                for run in runs:
                    drive(run())  # type: ignore[arg-type]  # data-layer coroutines
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            self.execute("COMMIT", {})
        except DBAPIError:
            self._drop()  # a fresh connection next time (the file may have been swapped)
            raise
        finally:
            active.reset(token)

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_s,
                isolation_level=None,  # transactions are ours: BEGIN IMMEDIATE
                check_same_thread=False,  # opened and used in the writer thread, closed anywhere
            )
            for pragma in self.pragmas:
                connection.execute(pragma)
        except sqlite3.Error as exc:
            raise DBAPIError.instance("connect", {}, exc, sqlite3.Error) from exc
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def reconnect(self) -> None:
        """Open a new connection before the next batch (new pragmas take effect)."""
        self._thread.submit(self._drop).result()

    def close(self) -> None:
        self._thread.submit(self._drop).result()
        self._thread.shutdown()
