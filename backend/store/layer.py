"""Chainlit's SQLAlchemy data layer, made safe for a live chat.

- Writes from a chat session (steps, thread updates, deletions) go through a `WriteQueue`:
  the caller never waits for the database, and an outage delays them instead of losing
  them. Inside the queue's task the same methods reach the database directly.
- Writes still wait for the session's first message, as Chainlit's own do, and keep their
  order (Chainlit's queue would replay all creations before all updates).
- A step that is still streaming is written with its final state, not before it as well
  (the queue holds it, writer.py). A conversation deleted here stays deleted: its writes
  still queued, or made later by a chat still open on it, are dropped.
- Every value is made storable first (sql.py: no NUL characters, no lone surrogates,
  dicts and lists as JSON text).
- A user is created with one idempotent statement (two first logins of the same person in
  two workers cannot collide), and a user read is kept for `USER_TTL_S`: every socket
  connection and request asks for it.
- A failed read is logged and answered as "nothing found", as Chainlit's own does; a
  failed write inside the queue raises, so the queue can retry it. A read of a conversation
  (and a new one's naming) waits briefly for this worker's queued writes of it.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chainlit.context import context
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.utils import queue_until_user_message
from chainlit.step import StepDict
from chainlit.types import ThreadDict
from chainlit.user import PersistedUser, User
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.store import sql, sqlite_writer
from backend.store.database import (
    READ_ONLY,
    SQLITE_BUSY_TIMEOUT_S,
    Database,
    connect_args,
    sqlite_path,
    sqlite_transactions,
)
from backend.store.errors import describe
from backend.store.sqlite_writer import SqliteWriter
from backend.store.writer import IN_WRITER, WriteQueue

log = logging.getLogger("hybrid_chat.store")
_BASE = SQLAlchemyDataLayer
# The writer's batch transaction, while one runs (queries join it).
_CONNECTION: contextvars.ContextVar[AsyncConnection | None] = contextvars.ContextVar(
    "store_connection", default=None
)
# A data-layer method called with the layer as its first argument (e.g. `_BASE.delete_step`).
Method = Callable[..., Awaitable[object]]
Rows = list[dict[str, Any]]
USER_TTL_S = 10.0  # rows in users are never deleted; only their metadata changes
READ_AFTER_WRITE_S = 2.0  # the longest a read of a conversation waits for its queued writes


def _direct(method: Method) -> Method:
    """Chainlit's method without its queue-until-first-message wrapper."""
    return getattr(method, "__wrapped__", method)


def _session_id() -> str | None:
    try:
        return context.session.id
    except Exception:  # no chat session here (an HTTP request, a test)
        return None


class StoreDataLayer(SQLAlchemyDataLayer):
    def __init__(self, database: Database, writes: WriteQueue | None = None) -> None:
        super().__init__(conninfo=database.url, connect_args=connect_args(database.url))
        self.database = database
        self.writes = writes or WriteQueue()
        self.writes.batch = self._run_batch
        self._threads: set[str] = set()  # threads known to exist: a step skips the check
        self._deleted: set[str] = set()  # deleted here: no later write may bring them back
        self._users: dict[str, tuple[float, PersistedUser]] = {}  # identifier -> (expiry, row)
        self._identifiers: dict[str, str] = {}  # user id -> identifier (neither ever changes)
        # One write transaction at a time in this process: a write waits here, not on
        # SQLite's busy timeout behind a batch whose statements wait for the event loop.
        self._writing = asyncio.Lock()
        # SQLite: the queue's batches skip the async engine (sqlite_writer.py).
        self.sqlite_writer: SqliteWriter | None = None
        if database.is_sqlite:
            sqlite_transactions(self.engine.sync_engine)
            path = sqlite_path(database.url)
            self.sqlite_writer = SqliteWriter(path, SQLITE_BUSY_TIMEOUT_S)

    async def execute_sql(self, query: str, parameters: dict[str, Any]) -> Rows | int | None:
        params = {key: sql.clean_value(value) for key, value in parameters.items()}
        try:
            return await self._execute(query, params)
        except Exception as exc:
            if IN_WRITER.get():
                raise
            log.warning("conversation database query failed: %s", describe(exc))
            return None

    async def _execute(self, query: str, params: dict[str, Any]) -> Rows | int:
        if (writer := sqlite_writer.active.get()) is not None:
            return self.clean_result(writer.execute(query, params))
        if (shared := _CONNECTION.get()) is not None:
            return self._result(await shared.execute(text(query), params))
        if query.lstrip()[:6].upper() in ("SELECT", "WITH"):
            async with self.engine.connect() as connection:  # no ORM session: less work
                await connection.execution_options(**{READ_ONLY: True})
                async with connection.begin():
                    return self._result(await connection.execute(text(query), params))
        async with self._writing, self.engine.begin() as connection:
            return self._result(await connection.execute(text(query), params))

    def _result(self, result: CursorResult[Any]) -> Rows | int:
        if result.returns_rows:
            return self.clean_result([dict(row._mapping) for row in result.fetchall()])
        return result.rowcount

    async def _run_batch(self, runs: list[Callable[[], Awaitable[object]]]) -> None:
        """The writer's batch: every write in one transaction, all or nothing."""
        known = set(self._threads)
        try:
            if self.sqlite_writer is not None:
                async with self._writing:
                    await self.sqlite_writer.run(runs)
                return
            async with self._writing, self.engine.begin() as connection:
                token = _CONNECTION.set(connection)
                try:
                    for run in runs:
                        await run()
                finally:
                    _CONNECTION.reset(token)
        except Exception:
            self._threads = known  # threads "created" in the rolled-back batch are not
            raise

    def _cached_user(self, identifier: str) -> PersistedUser | None:
        """A copy of the user read within `USER_TTL_S` (the caller may set display_name)."""
        cached = self._users.get(identifier)
        if cached is not None and cached[0] > time.monotonic():
            return dataclasses.replace(cached[1])
        return None

    async def get_user(self, identifier: str) -> PersistedUser | None:
        if (cached := self._cached_user(identifier)) is not None:
            return cached
        user = await super().get_user(identifier)
        if user is not None:
            self._users[identifier] = (time.monotonic() + USER_TTL_S, dataclasses.replace(user))
        return user

    async def create_user(self, user: User) -> PersistedUser | None:
        """Create the user or update its metadata, in one statement (Chainlit reads first).
        Called at every login: a user just read with the same metadata is not written."""
        cached = self._cached_user(user.identifier)
        if cached is not None and cached.metadata == user.metadata:
            return cached
        self._users.pop(user.identifier, None)
        now = await self.get_current_timestamp()
        await self.execute_sql(*sql.user_upsert(str(user.identifier), user.metadata, now))
        return await self.get_user(user.identifier)

    async def _get_user_identifer_by_id(self, user_id: str) -> str:
        if (identifier := self._identifiers.get(user_id)) is None:
            identifier = await super()._get_user_identifer_by_id(user_id)
            self._identifiers[user_id] = identifier
        return identifier

    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        """Chainlit's thread, plus each message's ``command`` and ``modes`` (its query leaves
        them out), after this worker's queued writes of it (a chat reopened at once shows its
        last answer)."""
        if not IN_WRITER.get():
            await self.writes.landed(thread_id, READ_AFTER_WRITE_S)
        thread = await super().get_thread(thread_id)
        if thread:
            rows = await self.execute_sql(sql.STEP_EXTRAS, {"t": thread_id})
            sql.add_step_extras(thread["steps"], rows)
        return thread

    # -- writes: queued, in order ---------------------------------------------------
    def _submit(self, label: str, method: Method, *args: Any, **kwargs: Any) -> None:
        async def run() -> object:
            return await _direct(method)(self, *args, **kwargs)

        # A step's create and updates carry its whole state: the latest queued one wins, and
        # a step still open (no end: it streams) waits for its final state (writer.py).
        key = group = None
        hold = False
        if method is StoreDataLayer._upsert_step:
            step = args[0]
            key, group, hold = f"step:{step['id']}", step.get("threadId"), not step.get("end")
        elif method in (StoreDataLayer._update_thread, StoreDataLayer._delete_after):
            group = args[0]
        elif method is _BASE.delete_step:  # here, in the order Chainlit replays writes
            self.writes.forget(key=f"step:{args[0]}")
        self.writes.submit(label, run, _session_id(), key, group, hold=hold)

    @queue_until_user_message()
    async def _deferred(self, label: str, method: Method, *args: Any, **kwargs: Any) -> None:
        self._submit(label, method, *args, **kwargs)

    async def _write(self, label: str, method: Method, *args: Any) -> None:
        if IN_WRITER.get():
            await _direct(method)(self, *args)
        elif _session_id() is None:
            self._submit(label, method, *args)
        else:
            await self._deferred(label, method, *args)

    async def create_step(self, step_dict: StepDict) -> None:
        await self._write("create_step", StoreDataLayer._upsert_step, dict(step_dict))

    async def update_step(self, step_dict: StepDict) -> None:
        await self._write("update_step", StoreDataLayer._upsert_step, dict(step_dict))

    async def _upsert_step(self, step_dict: dict[str, Any]) -> None:
        """Chainlit's create_step, checking the thread once per thread, not per step."""
        thread_id: str = step_dict["threadId"]  # Chainlit's steps always carry it
        if thread_id in self._deleted:
            return
        if thread_id not in self._threads:
            created = {"id": thread_id, "createdAt": await self.get_current_timestamp()}
            await self.execute_sql(sql.CREATE_THREAD, {**created, "metadata": "{}"})
            self._threads.add(thread_id)
        await self.execute_sql(*sql.step_upsert(step_dict))

    async def delete_thread(self, thread_id: str) -> None:
        self._deleted.add(thread_id)
        self._threads.discard(thread_id)
        self.writes.forget(group=thread_id)
        await super().delete_thread(thread_id)  # logs a failure and returns
        if await self.execute_sql(sql.THREAD_EXISTS, {"id": thread_id}) != []:
            self._deleted.discard(thread_id)  # still there: its writes go on

    async def delete_step(self, step_id: str) -> None:
        await self._write("delete_step", _BASE.delete_step, step_id)

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        """Queued from a chat session; its first message's call (naming the owner) returns once
        written: Chainlit then has an open sidebar list conversations again. HTTP: direct."""
        call: dict[str, Any] = dict(name=name, user_id=user_id, metadata=metadata, tags=tags)
        if IN_WRITER.get() or _session_id() is None:
            await self._update_thread(thread_id, **call)
            return
        self._submit("update_thread", StoreDataLayer._update_thread, thread_id, **call)
        if user_id is not None:
            await self.writes.landed(thread_id, READ_AFTER_WRITE_S)

    async def _update_thread(self, thread_id: str, **call: Any) -> None:
        """Chainlit's update_thread in one statement: no read of the thread first (sql.py)."""
        if thread_id in self._deleted:
            return
        call = {**call, "metadata": sql.storable(call["metadata"])}
        user_id = call["user_id"]
        identifier = await self._get_user_identifer_by_id(user_id) if user_id else None
        now = await self.get_current_timestamp()
        sqlite = self.database.is_sqlite
        upsert = sql.thread_upsert(sqlite, thread_id, now, user_identifier=identifier, **call)
        try:
            if upsert is not None and await self.execute_sql(*upsert) is not None:
                self._threads.add(thread_id)  # it exists now: its steps skip creating it
                return
        except Exception:  # stored metadata the database cannot read as JSON
            if _CONNECTION.get() is not None:
                raise  # PostgreSQL's batch is spoiled: the queue applies it one by one
        await _BASE.update_thread(self, thread_id, **call)  # reads, merges in Python

    async def delete_steps_after(self, thread_id: str, created_at: str, keep: list[str]) -> None:
        """Queue the removal of a thread's steps created after ``created_at`` (an edit)."""
        method = StoreDataLayer._delete_after
        self._submit("delete_steps_after", method, thread_id, created_at, keep)

    async def _delete_after(self, thread_id: str, created_at: str, keep: list[str]) -> None:
        for statement in sql.steps_after(thread_id, created_at, keep):
            await self.execute_sql(*statement)

    async def close(self) -> None:
        await self.writes.drain(timeout_s=5.0)
        await self.writes.close()
        if self.sqlite_writer is not None:
            self.sqlite_writer.close()
        await super().close()
