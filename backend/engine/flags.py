"""The installed vLLM's own argument parser: which of our flags it knows.

ENGINE_PYTHON may be any vLLM 0.26 or newer. Before a start the launcher asks that
Python for its parser's option strings (`known_options`) and drops each flag the engine
lacks (`drop_unknown`), with a one-line notice and the feature it costs, instead of vLLM
exiting with a usage error. The same snippet builds the parser in the tests. Building
the parser imports much of vLLM (seconds), so the answer is kept in the run directory
for as long as the engine's installed vLLM stays the same file.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Builds vLLM's `vllm serve` parser; module paths moved between 0.26 and 0.32.
PARSER_SNIPPET = """
try:
    from vllm.entrypoints.launchers.cli_args import make_arg_parser
except ImportError:
    from vllm.entrypoints.openai.cli_args import make_arg_parser
try:
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError:
    from vllm.utils import FlexibleArgumentParser

def new_parser():
    return make_arg_parser(FlexibleArgumentParser())
"""
OPTIONS_SCRIPT = (
    PARSER_SNIPPET
    + "\nimport json\nprint(json.dumps(sorted(new_parser()._option_string_actions)))\n"
)

# Which vLLM is installed, without importing it (fast): its package file and mtime.
INSTALLED_SCRIPT = (
    "import importlib.util, os; origin = importlib.util.find_spec('vllm').origin; "
    "print(origin, os.path.getmtime(origin))"
)

# What a chat user loses when the engine lacks a flag.
FLAG_FEATURES = {"--reasoning-config": "thinking budget"}


@dataclass(frozen=True)
class Dropped:
    flag: str
    feature: str = ""

    def notice(self) -> str:
        lost = f"; the {self.feature} is unavailable" if self.feature else ""
        return f"This vLLM has no {self.flag}: left out{lost}."


def _run(engine_python: str, script: str, timeout_s: float) -> str:
    done = subprocess.run(
        [engine_python, "-c", script], capture_output=True, text=True, timeout=timeout_s, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def known_options(
    engine_python: str, cache: Path | None = None, timeout_s: float = 300.0
) -> frozenset[str] | None:
    """The option strings of the engine's parser, or None when it cannot be asked.

    With ``cache`` (a JSON file), an answer for the same installed vLLM is reused.
    """
    try:
        installed = f"{engine_python} {_run(engine_python, INSTALLED_SCRIPT, timeout_s)}"
        if cache is not None and cache.exists():
            saved = json.loads(cache.read_text())
            if saved.get("installed") == installed:
                return frozenset(saved["options"])
        options = json.loads(_run(engine_python, OPTIONS_SCRIPT, timeout_s))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, KeyError):
        return None
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"installed": installed, "options": options}))
    return frozenset(options)


def drop_unknown(
    args: list[str], known: frozenset[str], *, start: int = 0
) -> tuple[list[str], list[Dropped]]:
    """``args`` without the flags (and their values) that ``known`` lacks.

    Arguments before ``start`` (the interpreter and ``-m module``) are kept as they are; a
    flag's values are the arguments up to the next one starting with ``--``.
    """
    kept, dropped = list(args[:start]), []
    skipping = False
    for arg in args[start:]:
        if arg.startswith("--"):
            skipping = arg.split("=", 1)[0] not in known
            if skipping:
                dropped.append(Dropped(arg, FLAG_FEATURES.get(arg, "")))
        if not skipping:
            kept.append(arg)
    return kept, dropped
