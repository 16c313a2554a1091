"""Real databases for the store's tests: a fresh SQLite file per test, and a fresh
database per test on the run's PostgreSQL server (``pg_server``, tests/conftest.py)."""

from __future__ import annotations

import pytest

from backend.config import Config


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request, tmp_path) -> Config:
    """A Config pointing at an empty database of each engine."""
    if request.param == "sqlite":
        return Config(data_dir=str(tmp_path / "data"))
    url = request.getfixturevalue("pg_server").new_database()
    return Config(data_dir=str(tmp_path / "data"), database_url=url)
