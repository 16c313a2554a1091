"""Presenting levels: JSON rows, a rich table, the knee, the app-vs-direct comparison, a plot.

``level_row`` is the JSON contract (one object per level, see docs/loadtest.md); everything
else here reads those rows, so the table, the file and the plot always agree.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from backend.loadtest.metrics import LevelSummary
from backend.loadtest.server_view import ServerView

KNEE_GAIN = 0.10  # a level whose next step adds < 10% throughput while latency grows
LENGTH_TOLERANCE = 0.02  # app and direct answers count as the same length within 2%


@dataclass(frozen=True)
class Level:
    """A summarised level with the context it ran in."""

    target: str  # "direct" or "app"
    endpoint: str
    summary: LevelSummary
    server: ServerView | None
    input_len_exact: bool
    input_len_note: str = ""  # why not exact: the real /tokenize failure, or the counts reached


def level_row(level: Level) -> dict[str, Any]:
    s = level.summary
    row: dict[str, Any] = {
        "target": level.target,
        "endpoint": level.endpoint,
        "concurrency": s.concurrency,
        "request_rate": s.request_rate,
        "duration_s": s.duration_s,
        "success": s.success,
        "failed": s.failed,
        "errors": s.errors,
        "total_input_tokens": s.total_input_tokens,
        "total_output_tokens": s.total_output_tokens,
        "input_len_exact": level.input_len_exact,
        "input_len_note": level.input_len_note,
        "output_tokens_from": s.output_tokens_from,
        "request_s": s.request_s,
        "output_tok_s": s.output_tok_s,
        "total_tok_s": s.total_tok_s,
        "peak_output_tok_s": s.peak_output_tok_s,
        "goodput_request_s": s.goodput_request_s,
        "socket_events_per_answer": s.socket_events_per_answer,
        "server": level.server.as_dict() if level.server else None,
    }
    for name in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "per_user_tok_s"):
        row[name] = getattr(s, name).as_dict()
    return row


def find_knee(rows: Sequence[dict[str, Any]]) -> int | None:
    """Index of the last level worth having: the next one gains < 10% throughput while its
    TTFT or TPOT p50 grows. ``None`` when throughput keeps scaling (or one level only)."""
    for i in range(len(rows) - 1):
        here, there = rows[i], rows[i + 1]
        gain = (there["output_tok_s"] - here["output_tok_s"]) / max(here["output_tok_s"], 1e-9)
        slower = (
            there["ttft_ms"]["p50"] > here["ttft_ms"]["p50"]
            or there["tpot_ms"]["p50"] > here["tpot_ms"]["p50"]
        )
        if gain < KNEE_GAIN and slower:
            return i
    return None


def output_tokens_per_request(row: dict[str, Any]) -> float:
    return row["total_output_tokens"] / row["success"] if row["success"] else 0.0


def compare(direct: dict[str, Any], app: dict[str, Any]) -> dict[str, Any]:
    """What the app adds on top of the model server at the same level.

    ``lengths_match`` says whether both asked the model for the same work: mean output tokens
    per answer within ``LENGTH_TOLERANCE`` (otherwise the tok/s ratio compares unlike things)."""
    direct_len, app_len = output_tokens_per_request(direct), output_tokens_per_request(app)
    return {
        "added_ttft_p50_ms": app["ttft_ms"]["p50"] - direct["ttft_ms"]["p50"],
        "added_ttft_p99_ms": app["ttft_ms"]["p99"] - direct["ttft_ms"]["p99"],
        "added_e2e_p50_ms": app["e2e_ms"]["p50"] - direct["e2e_ms"]["p50"],
        "added_e2e_p99_ms": app["e2e_ms"]["p99"] - direct["e2e_ms"]["p99"],
        "output_tok_s_ratio": app["output_tok_s"] / direct["output_tok_s"]
        if direct["output_tok_s"]
        else None,
        "output_tokens_per_answer": {"direct": direct_len, "app": app_len},
        "lengths_match": bool(direct_len)
        and abs(app_len - direct_len) <= LENGTH_TOLERANCE * direct_len,
        "socket_events_per_answer": app["socket_events_per_answer"],
    }


def write_json(rows: Sequence[dict[str, Any]], path: str) -> None:
    Path(path).write_text(json.dumps(list(rows), indent=2) + "\n")


def _level_name(row: dict[str, Any]) -> str:
    if row["concurrency"] is not None:
        return f"c={row['concurrency']}"
    return f"{row['request_rate']:g} req/s"


def _p50_p99(dist: dict[str, float]) -> str:
    return f"{dist['p50']:.1f}/{dist['p99']:.1f}"


def print_table(rows: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 220)
    table = Table(title="Load test", show_lines=False)
    for head in ("target", "level", "ok", "fail", "req/s", "out tok/s", "peak tok/s",
                 "TTFT p50/p99 ms", "TPOT p50/p99 ms", "ITL p50/p99 ms", "E2E p50/p99 ms",
                 "goodput", "run/wait max", "KV max", "preempt"):  # fmt: skip
        table.add_column(head, justify="right")
    knee = find_knee([r for r in rows if r["target"] == rows[0]["target"]])
    for i, r in enumerate(rows):
        server = r["server"] or {}
        table.add_row(
            r["target"],
            _level_name(r) + (" (knee)" if i == knee else ""),
            str(r["success"]),
            str(r["failed"]),
            f"{r['request_s']:.2f}",
            f"{r['output_tok_s']:.1f}",
            f"{r['peak_output_tok_s']:.0f}",
            *(_p50_p99(r[k]) for k in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")),
            "-" if r["goodput_request_s"] is None else f"{r['goodput_request_s']:.2f}",
            f"{server['running_max']}/{server['waiting_max']}" if server else "-",
            f"{server['kv_cache_usage_max']:.0%}" if server else "-",
            str(server["preemptions"]) if server else "-",
        )  # fmt: skip
    console.print(table)
    for r in rows:
        if r["errors"]:
            console.print(f"[red]{r['target']} {_level_name(r)} errors:[/red] {r['errors']}")
        if "comparison" in r:
            console.print(f"{_level_name(r)} app vs direct: {r['comparison']}")
            if not r["comparison"]["lengths_match"]:
                lengths = r["comparison"]["output_tokens_per_answer"]
                console.print(f"[yellow]answer lengths differ (tokens): {lengths}[/yellow]")
    for r in rows:
        guessed = {k: v for k, v in r["output_tokens_from"].items() if k != "usage"}
        if guessed:
            console.print(
                f"[yellow]{r['target']} {_level_name(r)}: output tokens not from the server's "
                f"usage for {guessed} answers[/yellow]"
            )
    for note in dict.fromkeys(r["input_len_note"] for r in rows if r["input_len_note"]):
        console.print(f"[yellow]{note}[/yellow]")


def plot(rows: Sequence[dict[str, Any]], path: str) -> None:
    """Throughput and TTFT/TPOT p50/p99 against concurrency, the knee marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r["concurrency"] is not None and r["target"] == rows[0]["target"]]
    if not rows:
        return
    x = [r["concurrency"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    top.plot(x, [r["output_tok_s"] for r in rows], "o-", label="output tok/s")
    top.set_ylabel("output tok/s")
    for key, style in (("ttft_ms", "-"), ("tpot_ms", "--")):
        for pct in ("p50", "p99"):
            bottom.plot(x, [r[key][pct] for r in rows], style, marker="o", label=f"{key} {pct}")
    bottom.set_ylabel("ms")
    bottom.set_yscale("log")
    bottom.set_xlabel("concurrency")
    knee = find_knee(rows)
    if knee is not None:
        for ax in (top, bottom):
            ax.axvline(x[knee], color="red", linestyle=":", label=f"knee c={x[knee]}")
    for ax in (top, bottom):
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(c) for c in x])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(f"{rows[0]['target']} / {rows[0]['endpoint']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
