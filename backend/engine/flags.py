"""The installed vLLM's own argument parser: which of our flags it knows.

ENGINE_PYTHON may be any vLLM 0.26 or newer. Before a start the launcher asks that
Python for its parser's option strings (`known_options`) and drops each flag the engine
lacks (`drop_unknown`), with a one-line notice and the feature it costs, instead of vLLM
exiting with a usage error. The same snippet builds the parser in the tests.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

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

# What a chat user loses when the engine lacks a flag.
FLAG_FEATURES = {"--reasoning-config": "thinking budget"}


@dataclass(frozen=True)
class Dropped:
    flag: str
    feature: str = ""

    def notice(self) -> str:
        lost = f"; the {self.feature} is unavailable" if self.feature else ""
        return f"This vLLM has no {self.flag}: left out{lost}."


def known_options(engine_python: str, timeout_s: float = 300.0) -> frozenset[str] | None:
    """The option strings of the engine's parser, or None when it cannot be asked."""
    try:
        done = subprocess.run(
            [engine_python, "-c", OPTIONS_SCRIPT],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
        return frozenset(json.loads(done.stdout.strip().splitlines()[-1]))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


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
