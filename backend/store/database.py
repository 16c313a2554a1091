"""Open the conversation database: pick the engine, check the file, migrate the schema.

SQLite by default (``DATA_DIR/chat.db``, created on first start, WAL mode); PostgreSQL
when ``DATABASE_URL`` is set. Several chat workers write the same SQLite file: every SQLite
transaction that may write starts with ``BEGIN IMMEDIATE`` (see `sqlite_transactions`).
`prepare` never raises for a database problem: it returns a `Database` whose ``problem``
says, in plain words, why history is off. A SQLite file that is not a database, is
damaged or cannot be written is left exactly as it is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from backend.config import Config

log = logging.getLogger("hybrid_chat.store")
MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_HEADER = b"SQLite format 3\x00"
CONNECT_TIMEOUT_S = 5.0
SQLITE_BUSY_TIMEOUT_S = 5.0
# Execution option for a transaction that only reads: it starts deferred (no write lock).
READ_ONLY = "store_read_only"


@dataclass(frozen=True)
class Database:
    url: str  # SQLAlchemy async URL ("" when history is off)
    display: str  # where conversations live, for people (no password)
    problem: str | None = None  # why history is off, or None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


def async_url(config: Config) -> str:
    """The SQLAlchemy URL with an async driver: asyncpg for PostgreSQL, aiosqlite for SQLite."""
    url = config.database_url
    if not url:
        return f"sqlite+aiosqlite:///{Path(config.data_dir).resolve() / 'chat.db'}"
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    driver = "sqlite+aiosqlite" if scheme == "sqlite" else "postgresql+asyncpg"
    return urlunsplit((driver, *parts[1:]))


def display_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return url.split("///", 1)[-1]
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{host}{port}{parts.path}"


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


def connect_args(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"timeout": SQLITE_BUSY_TIMEOUT_S}
    return {"timeout": CONNECT_TIMEOUT_S}


def sqlite_transactions(engine: Engine) -> None:
    """Make ``engine``'s SQLite transactions take the write lock when they begin.

    A deferred transaction that reads and then writes asks for the lock only at its first
    write; if another connection holds it, SQLite answers "database is locked" at once
    (busy_timeout cannot help: waiting could deadlock). ``BEGIN IMMEDIATE`` waits for the
    lock up front, up to the busy timeout. The driver's own BEGIN is turned off
    (``isolation_level = None``) so SQLAlchemy's "begin" event can issue ours; connections
    run with ``execution_options(store_read_only=True)`` begin deferred.
    """
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    # WAL + NORMAL: a commit survives the process being killed; only power loss may
    # lose the last commits, and writes skip an fsync each.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def prepare(config: Config) -> Database:
    """Check and migrate the configured database; history is off (with a reason) on failure."""
    url = async_url(config)
    where = display_url(url)
    try:
        if url.startswith("sqlite"):
            check_sqlite_file(sqlite_path(url))
        upgrade(url)
    except StoreProblem as exc:
        return Database("", where, str(exc))
    except Exception as exc:  # any driver error: history off, the chat still starts
        log.warning("conversation database unavailable: %s", exc)
        return Database("", where, f"the database at {where} cannot be used ({_short(exc)})")
    return Database(url, where)


class StoreProblem(Exception):
    """A database problem a person can fix; ``str()`` says what and where."""


def check_sqlite_file(path: Path) -> None:
    """Create the data folder; refuse a file that is not SQLite, damaged or read-only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"the data folder {path.parent} cannot be created ({exc.strerror})"
        raise StoreProblem(reason) from None
    if not path.exists():
        if not _writable(path.parent):
            raise StoreProblem(f"the data folder {path.parent} is read-only")
        return
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise StoreProblem(f"{path} is not a SQLite database; it was left untouched")
    if not _writable(path) or not _writable(path.parent):
        raise StoreProblem(f"{path} (or its folder) is read-only; it was left untouched")
    if header and (damage := _integrity(path)):
        raise StoreProblem(f"{path} is damaged ({damage}); it was left untouched")


def _writable(path: Path) -> bool:
    """Writable, and not marked read-only (root may write anything: the mark still counts)."""
    return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)


def _integrity(path: Path) -> str | None:
    try:
        db = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = rows[0][0] if rows else "no result"
    return None if result == "ok" else result


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations up to ``revision``, in a thread with its own event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _upgrade(url, revision)).result()


async def _upgrade(url: str, revision: str) -> None:
    engine = create_async_engine(url, connect_args=connect_args(url))
    if url.startswith("sqlite"):
        sqlite_transactions(engine.sync_engine)
    try:
        if url.startswith("sqlite"):
            _wal(sqlite_path(url))  # outside any transaction, as SQLite requires
        async with engine.begin() as conn:
            await conn.run_sync(_run_migrations, revision)
    finally:
        await engine.dispose()


def _wal(path: Path) -> None:
    db = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


def _run_migrations(connection: Connection, revision: str) -> None:
    """Upgrade, saying so when the schema changed (Alembic's own INFO lines are off:
    backend/store/__init__.py)."""
    before = MigrationContext.configure(connection).get_current_revision()
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)
    after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        log.info(
            "Database schema %s: now at revision %s", "upgraded" if before else "created", after
        )


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
