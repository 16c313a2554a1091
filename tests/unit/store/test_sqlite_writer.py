"""The SQLite fast path's pieces that need no database: driving a write to its end, and
how a sqlite3 error comes out."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from backend.store.sqlite_writer import SqliteWriter, Suspended, drive


async def _plain() -> str:
    return "done"


async def _nested() -> int:
    return len(await _plain())


def test_a_write_that_never_waits_runs_to_its_end_here():
    assert drive(_plain()) == "done"
    assert drive(_nested()) == 4


def test_a_write_that_waits_for_the_loop_is_stopped_and_closed():
    reached = []

    async def waits() -> None:
        try:
            await asyncio.sleep(0)
            reached.append("after")
        finally:
            reached.append("closed")

    with pytest.raises(Suspended):
        drive(waits())
    assert reached == ["closed"]  # never went past the wait


def test_sqlite_errors_come_out_as_sqlalchemys(tmp_path):
    writer = SqliteWriter(tmp_path / "t.db", busy_timeout_s=0.1)
    try:

        async def create() -> None:
            writer.execute("CREATE TABLE t (id TEXT PRIMARY KEY)", {})
            writer.execute("INSERT INTO t VALUES (:i)", {"i": "a"})

        async def duplicate() -> None:
            writer.execute("INSERT INTO t VALUES (:i)", {"i": "a"})

        asyncio.run(writer.run([create]))
        with pytest.raises(IntegrityError):
            asyncio.run(writer.run([duplicate]))
        blocker = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(OperationalError, match="locked"):
            asyncio.run(writer.run([duplicate]))
        blocker.execute("ROLLBACK")
        blocker.close()
        rows = sqlite3.connect(tmp_path / "t.db").execute("SELECT id FROM t").fetchall()
        assert rows == [("a",)]
    finally:
        writer.close()
