"""The schema on real SQLite and PostgreSQL: made by migrations, upgraded with rows kept,
holding every column Chainlit 2.12 writes; bad databases at start are refused, untouched."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3

import pytest
from chainlit.context import init_http_context
from chainlit.element import File
from chainlit.message import Message
from chainlit.step import Step
from chainlit.types import Feedback
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from backend.config import Config
from backend.store.database import async_url, prepare, sqlite_path, upgrade
from tests.support.fake_openai_server import free_port


async def _run(url: str, fn):
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def columns(url: str) -> dict[str, set[str]]:
    def read(conn):
        found = inspect(conn)
        return {t: {c["name"] for c in found.get_columns(t)} for t in found.get_table_names()}

    return asyncio.run(_run(url, read))


def chainlit_writes() -> dict[str, set[str]]:
    """The keys Chainlit 2.12's objects hand to its SQLAlchemy data layer."""
    return asyncio.run(_chainlit_writes())


async def _chainlit_writes() -> dict[str, set[str]]:
    init_http_context()
    step = Step(name="s", type="llm", default_open=True, auto_collapse=True)
    message = Message(content="m", command="Think")
    element = File(name="e", for_id="x", content=b"x")
    return {
        "steps": set(step.to_dict()) | set(message.to_dict()),
        "elements": set(element.to_dict()),
        "feedbacks": {f.name for f in dataclasses.fields(Feedback)},
        "threads": {"id", "createdAt", "name", "userId", "userIdentifier", "tags", "metadata"},
        "users": {"id", "identifier", "createdAt", "metadata"},
    }


def test_fresh_database_holds_every_column_chainlit_writes(config):
    database = prepare(config)
    assert database.ok, database.problem
    found = columns(database.url)
    for table, keys in chainlit_writes().items():
        assert keys <= found[table], f"{table} lacks {keys - found[table]}"
    assert {"command", "defaultOpen", "autoCollapse", "modes"} <= found["steps"]


def test_previous_version_is_upgraded_with_its_rows_kept(config, caplog):
    url = async_url(config)
    if url.startswith("sqlite"):
        sqlite_path(url).parent.mkdir(parents=True)
    upgrade(url, "0001")
    assert "command" not in columns(url)["steps"]

    def fill(conn):
        conn.execute(text("""INSERT INTO threads ("id", "name") VALUES ('t1', 'Old chat')"""))
        conn.execute(
            text("""INSERT INTO steps ("id", "name", "type", "threadId", "output", "createdAt")
                    VALUES ('s1', 'User', 'user_message', 't1', 'kept?', '2025-01-01Z')""")
        )

    asyncio.run(_run(url, fill))
    caplog.set_level("INFO")
    assert prepare(config).ok  # the app's start: upgrade to the newest schema
    said = [r.getMessage() for r in caplog.records if r.name.startswith(("hybrid", "alembic"))]
    assert said == ["Database schema upgraded: now at revision 0002"]  # once, and only that

    def read(conn):
        conn.execute(text("""UPDATE steps SET "command" = 'Think' WHERE "id" = 's1'"""))
        return conn.execute(text('SELECT "output", "command" FROM steps')).all()

    assert asyncio.run(_run(url, read)) == [("kept?", "Think")]
    assert asyncio.run(_run(url, lambda c: c.execute(text("SELECT name FROM threads")).all())) == [
        ("Old chat",)
    ]


def test_sqlite_is_created_on_first_start_in_wal_mode(tmp_path):
    config = Config(data_dir=str(tmp_path / "new" / "data"))
    assert prepare(config).ok
    path = tmp_path / "new" / "data" / "chat.db"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert prepare(config).ok  # a second start changes nothing


def _bytes(path):
    return path.read_bytes()


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "chat.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    before = _bytes(path)
    database = prepare(Config(data_dir=str(tmp_path)))
    assert not database.ok and "not a SQLite database" in database.problem
    assert str(path) in database.problem and _bytes(path) == before


def test_a_damaged_sqlite_file_is_refused_and_left_alone(tmp_path):
    config = Config(data_dir=str(tmp_path))
    assert prepare(config).ok
    path = tmp_path / "chat.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 97):  # scribble over every page but the header
        data[offset] = 0xFF
    path.write_bytes(bytes(data))
    before = _bytes(path)
    database = prepare(config)
    assert not database.ok and "damaged" in database.problem
    assert _bytes(path) == before


def test_a_read_only_file_is_refused_and_left_alone(tmp_path):
    config = Config(data_dir=str(tmp_path))
    assert prepare(config).ok
    path = tmp_path / "chat.db"
    before = _bytes(path)
    path.chmod(0o444)
    try:
        database = prepare(config)
    finally:
        path.chmod(0o644)
    assert not database.ok and "read-only" in database.problem
    assert _bytes(path) == before


def test_an_unreachable_postgresql_turns_history_off_quickly(tmp_path):
    url = f"postgresql://chat:secret@127.0.0.1:{free_port()}/chats"
    database = prepare(Config(data_dir=str(tmp_path), database_url=url))
    assert not database.ok
    assert "127.0.0.1" in database.problem and "secret" not in database.problem
    assert not os.path.exists(tmp_path / "chat.db")


@pytest.mark.parametrize("url", ["mysql://x", "http://db"])
def test_a_database_url_of_another_kind_is_a_config_error(url):
    from backend.config import ConfigError

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Config.from_env({"DATABASE_URL": url}, env_file="/nonexistent")
