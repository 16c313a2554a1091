"""requirements.txt alone must hold everything the chat imports when it runs.

The test command installs requirements-dev.txt on top, whose packages pull in more
(Playwright brings greenlet, for one), so a package the chat needs but requirements.txt lacks
passes every other test and breaks only a user's fresh ``./start.sh``. This happened with
greenlet, which SQLAlchemy's asyncio extension needs and installs only with the ``asyncio``
extra. Here the chat's modules are imported in a child interpreter, the saved-conversations
engine is opened, and every distribution those imports loaded must be in the dependency
closure of requirements.txt (extras and environment markers evaluated).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Loaded when present, done without when not: not requirements.
OPTIONAL = {
    "setuptools": "every virtualenv's seed; its .pth file loads _distutils_hack at start-up",
    "websocket-client": "python-engineio's client imports it in a try block (sync client only)",
}

# What the chat process imports: Chainlit's app with our hooks, and the data layer's engine
# on a real SQLite file (the asyncio bridge loads only when an engine runs).
PROBE = """
import asyncio, json, sys, tempfile
sys.path.insert(0, sys.argv[1])
import chainlit.server, chainlit.socket, chainlit.data.sql_alchemy
import backend.auth.hooks, backend.chat.handlers, backend.store.database, backend.metrics
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

async def touch(url):
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.execute(text("select 1"))
    await engine.dispose()

with tempfile.TemporaryDirectory() as folder:
    asyncio.run(touch(f"sqlite+aiosqlite:///{folder}/probe.db"))
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def requirement_lines(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def closure(requirements: list[Requirement]) -> set[str]:
    """Canonical names of the requirements and everything they require, installed here."""
    seen: set[str] = set()
    todo = [(req, frozenset(req.extras)) for req in requirements]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # marker-true but not installed here: nothing of it can be imported
        for line in requires:
            child = Requirement(line)
            envs = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in envs):
                todo.append((child, frozenset(child.extras)))
    return {key.split("[", 1)[0] for key in seen}


def imported_distributions() -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    modules = json.loads(out.stdout.strip().splitlines()[-1])
    by_module = metadata.packages_distributions()
    return {canonicalize_name(dist) for m in modules for dist in by_module.get(m, [])}


def test_the_chat_needs_nothing_beyond_requirements_txt():
    allowed = closure(requirement_lines(ROOT / "requirements.txt"))
    missing = imported_distributions() - allowed - set(OPTIONAL)
    assert not missing, f"the chat imports {sorted(missing)}, which requirements.txt lacks"


def test_the_closure_follows_extras_and_markers():
    """The check itself: SQLAlchemy's asyncio extra brings greenlet, the bare name does not."""
    assert "greenlet" in closure([Requirement("SQLAlchemy[asyncio]")])
    assert "greenlet" not in closure([Requirement("SQLAlchemy")])
