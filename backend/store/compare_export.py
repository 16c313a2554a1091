"""A comparison in the exported files: both sides, as the chat showed them.

Markdown gives each side a heading (its mode, and "kept" on the side the conversation
continued from), its reasoning folded in ``<details>``, its answer, and its stats line
(time to first token, tokens, tokens/s, total time) with any error or
note. JSON gives the sides as stored, each with ``kept`` true or false.
"""

from __future__ import annotations

import re
from typing import Any

from backend.store.transcript import Comparison

_DETAILS_TAG = re.compile(r"</?details\b", re.IGNORECASE)
_ENDED = {"stopped": "Stopped.", "error": None}  # error: the side's own message


def fold(title: str, text: str) -> list[str]:
    """A ``<details>`` block that the text inside cannot close early."""
    body = _DETAILS_TAG.sub(lambda m: "&lt;" + m.group(0)[1:], text.strip())
    return [f"<details><summary>{title}</summary>", "", body, "", "</details>", ""]


def compare_markdown(comparison: Comparison, thumbs: str = "") -> list[str]:
    kept = comparison.side(comparison.kept)
    if not comparison.sides:  # saved before both sides were kept
        lines = [f"### Assistant{thumbs}", ""]
        lines += ["*Compared in both modes; only the kept answer was saved.*", ""]
        return lines + [str(comparison.record.get("answer") or "").strip() or "*(no answer)*", ""]
    if kept is not None and comparison.final:
        label = kept.get("label") or kept.get("key")
        intro = f"*Compared in both modes; the conversation continued from the {label} answer.*"
    else:
        intro = "*Compared in both modes; the comparison did not finish.*"
    lines = [intro + thumbs, ""]
    for side in comparison.sides:
        lines += _side_markdown(side, side is kept and comparison.final)
    return lines


def _side_markdown(side: dict[str, Any], kept: bool) -> list[str]:
    lines = [f"### {side.get('label') or side.get('key')}{' · kept' if kept else ''}", ""]
    reasoning = str(side.get("reasoning") or "")
    if reasoning.strip():
        lines += fold(_thought_title(side), reasoning)
    lines += [str(side.get("answer") or "").strip() or "*(no answer)*", ""]
    for extra in (_ended(side), side.get("note"), stats_line(side.get("stats"))):
        if extra:
            lines += [f"*{extra}*", ""]
    return lines


def _thought_title(side: dict[str, Any]) -> str:
    seconds = side.get("thought_s")
    title = f"Thought for {seconds:.1f} s" if isinstance(seconds, (int, float)) else "Reasoning"
    return title + (" · thinking budget reached" if side.get("budget_cut") else "")


def _ended(side: dict[str, Any]) -> str | None:
    status = side.get("status")
    if status == "error":
        return str(side.get("error") or "Error.")
    return _ENDED.get(str(status))


def stats_line(stats: Any) -> str:
    """A side's stats as one line, in the words of the line under an answer."""
    if not isinstance(stats, dict):
        return ""
    parts = []
    if stats.get("ttft_ms") is not None:
        parts.append(f"first token {stats['ttft_ms']} ms")
    if stats.get("reasoning_tokens"):
        parts.append(f"{stats['reasoning_tokens']} reasoning tokens")
    if stats.get("answer_tokens") is not None:
        parts.append(f"{stats['answer_tokens']} answer tokens")
    if stats.get("tokens_per_s") is not None:
        parts.append(f"{stats['tokens_per_s']} tok/s")
    if stats.get("total_s") is not None:
        parts.append(f"total {stats['total_s']} s")
    return " · ".join(parts)


def compare_json(comparison: Comparison) -> dict[str, Any]:
    kept = comparison.kept if comparison.final else None
    sides = [{**s, "kept": s.get("key") == kept} for s in comparison.sides]
    return {"id": comparison.id, "kept": kept, "finished": comparison.final, "sides": sides}
