"""The layout of backend/, read from its source with `ast`: arrows one way, no circles.

- no import cycles between modules (imports inside functions count too);
- each package imports only what `ALLOWED` lists besides itself: chat uses server and the
  engine's status file, never the launcher or the planner; server, engine and planner never
  import chat;
- no module over `MAX_LINES` lines (in bench/ and tests/ either);
- a command line lives in ``__main__.py`` (over ``cli.py``): no other module imports a cli;
- only backend/config.py reads the environment.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend.config import ROOT

MAX_LINES = 300
# package (or top-level module) -> the modules of other packages it may import (prefixes)
ALLOWED = {
    "config": {"backend.engine.profiles"},
    "server": {"backend.config"},
    "chat": {
        "backend.config",
        "backend.server",
        "backend.engine.status",
        "backend.metrics",
        "backend.store",
        "backend.auth",
    },
    "auth": {"backend.config"},
    "users": {"backend.auth"},
    "store": {"backend.config"},
    "preflight": {"backend.config", "backend.auth"},
    "metrics": {"backend.config", "backend.server", "backend.engine.status", "backend.proxy"},
    "engine": {"backend.config", "backend.planner"},
    "planner": set(),
    "proxy": {"backend.config"},
    "loadtest": {"backend.config", "backend.server", "backend.auth.client"},
}
# backend/auth/hooks.py only writes CHAINLIT_AUTH_SECRET: the one channel Chainlit reads it from.
ENV_READERS = {"backend/config.py", "backend/auth/hooks.py"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path, package: str) -> set[str]:
    """Modules of ``package`` that the file at ``path`` imports (anywhere in it)."""
    modules = {module_name(p, root) for p in (root / package).rglob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` imports pkg.mod when that is a module
            names = [f"{node.module}.{a.name}" for a in node.names]
            names = [n if n in modules else node.module for n in names]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] == package}
    return found


def import_graph(root: Path, package: str = "backend") -> dict[str, set[str]]:
    return {
        module_name(path, root): imports_of(path, root, package)
        for path in sorted((root / package).rglob("*.py"))
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*trail[trail.index(target) :], target]
            if target not in state and (cycle := visit(target, [*trail, target])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def forbidden_arrows(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for source, targets in graph.items():
        own = source.split(".")[1] if "." in source else source
        allowed = ALLOWED.get(own)
        for target in targets:
            other = target.split(".")[1] if "." in target else target
            if other == own or allowed is None:
                continue
            if not any(target == a or target.startswith(a + ".") for a in allowed):
                wrong.append(f"{source} -> {target}")
    return sorted(wrong)


def cli_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if target.rsplit(".", 1)[-1] in ("cli", "__main__")
        and source.rsplit(".", 1)[-1] != "__main__"
    )


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


GRAPH = import_graph(ROOT)


def test_the_graph_is_read():
    assert "backend.server.client" in GRAPH["backend.chat.turn"]
    assert "backend.planner" in GRAPH["backend.engine.launcher"]  # imports inside functions


def test_no_import_cycles():
    assert find_cycle(GRAPH) is None


def test_arrows_point_one_way():
    assert set(ALLOWED) == {m.split(".")[1] for m in GRAPH if m.count(".") >= 1}
    assert forbidden_arrows(GRAPH) == []


def test_no_library_module_imports_a_command_line():
    assert cli_imports(GRAPH) == []


@pytest.mark.parametrize(
    "path",
    sorted(p for d in ("backend", "bench", "tests") for p in (ROOT / d).rglob("*.py")),
    ids=str,
)
def test_module_size(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_only_config_reads_the_environment():
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "backend").rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    }
    assert readers <= ENV_READERS


def test_the_checks_catch_a_planted_cycle_a_wrong_arrow_and_a_cli_import(tmp_path):
    root = plant(
        tmp_path,
        {
            "backend/__init__.py": "",
            "backend/server/__init__.py": "",
            "backend/server/a.py": "from backend.server import b\n",
            "backend/server/b.py": "def f():\n    import backend.server.a\n",
            "backend/server/c.py": "from backend.chat.turn import run_turn\n",
            "backend/chat/__init__.py": "",
            "backend/chat/turn.py": "from backend.chat.cli import main\n",
            "backend/chat/cli.py": "",
        },
    )
    graph = import_graph(root)
    assert find_cycle(graph) == ["backend.server.a", "backend.server.b", "backend.server.a"]
    assert forbidden_arrows(graph) == ["backend.server.c -> backend.chat.turn"]
    assert cli_imports(graph) == ["backend.chat.turn -> backend.chat.cli"]
