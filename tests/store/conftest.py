"""Real databases for the store's tests: a fresh SQLite file per test, and one PostgreSQL
server per test run (a fresh database per test)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from backend.config import Config
from support import postgres


@pytest.fixture(scope="session")
def pg_server():
    server = postgres.create()
    try:
        yield server
    finally:
        postgres.remove(server)


async def _create_database(server, name: str) -> None:
    conn = await asyncpg.connect(server.url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request, tmp_path) -> Config:
    """A Config pointing at an empty database of each engine."""
    if request.param == "sqlite":
        return Config(data_dir=str(tmp_path / "data"))
    server = request.getfixturevalue("pg_server")
    name = "t" + uuid.uuid4().hex[:12]
    asyncio.run(_create_database(server, name))
    return Config(
        data_dir=str(tmp_path / "data"), database_url=server.url.replace("/postgres", f"/{name}")
    )
