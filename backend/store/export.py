"""A stored conversation as files a person can keep: Markdown to read, JSON to process.

Markdown shows each question and answer, its mode and stats line, the thumbs given, and
the reasoning folded in a ``<details>`` block. A comparison shows both sides, each with
its reasoning folded, its stats and which one the conversation continued from; an answer
replaced by answering again is folded above the answer that replaced it. JSON holds
everything the chat stored: every message, reasoning with its timing, mode, settings,
stats, timestamps, feedback, both sides of a comparison (``compare``) and the replaced
answers (``replaced``). Both are pure functions of a `Transcript` and the export time.
"""

from __future__ import annotations

import json
import re
from typing import Any

from backend.store.compare_export import compare_json, compare_markdown, fold
from backend.store.transcript import Answer, Attempt, Exchange, Transcript

FORMAT = "hybrid-chat-conversation"
VERSION = 1
THUMBS = {1: "👍", 0: "👎"}


def file_stem(transcript: Transcript) -> str:
    """A safe file name from the conversation's name (or its id)."""
    base = re.sub(r"[^\w\-]+", "-", transcript.name or "", flags=re.UNICODE).strip("-")[:60]
    return base or f"conversation-{transcript.thread_id[:8]}"


def to_markdown(transcript: Transcript, exported_at: str) -> str:
    lines = [f"# {_one_line(transcript.name) or 'Conversation'}", ""]
    lines.append(f"*Exported {exported_at} · {len(transcript.exchanges)} exchange(s)*")
    lines.append("")
    for exchange in transcript.exchanges:
        lines.extend(_exchange_markdown(exchange))
    return "\n".join(lines).rstrip() + "\n"


def _exchange_markdown(exchange: Exchange) -> list[str]:
    mode = f" · {exchange.command}" if exchange.command else ""
    lines = [f"## You{mode}", f"<sub>{exchange.created_at or ''}</sub>", "", exchange.question, ""]
    for attempt in exchange.replaced:
        lines += _replaced_markdown(attempt)
    answer = exchange.answer
    if exchange.compare is not None:
        lines += compare_markdown(exchange.compare, _thumbs(answer))
    else:
        for block in exchange.reasoning:
            lines += fold(block["title"] or "Reasoning", block["text"])
        if answer is not None:
            lines += [f"### Assistant{_thumbs(answer)}", "", answer.text.strip() or "*(no answer)*"]
            lines += [""] + _extras(answer)
    if comment := _comment(answer):
        lines += [comment, ""]
    lines += [f"> {_one_line(note)}" for note in exchange.notes]
    return lines + ([""] if exchange.notes else [])


def _thumbs(answer: Answer | None) -> str:
    value = answer.feedback.get("value") if answer and answer.feedback else None
    return f" {THUMBS[value]}" if value in THUMBS else ""


def _comment(answer: Answer | None) -> str:
    """The rating's comment as a quoted line, or ""."""
    comment = answer.feedback.get("comment") if answer and answer.feedback else None
    return f"> Feedback: {comment}" if comment else ""


def _extras(answer: Answer) -> list[str]:
    """The note and stats line, in italics, as shown under the answer."""
    lines: list[str] = []
    for extra in (answer.details.get("note"), answer.details.get("stats")):
        if extra:
            lines += [f"*{extra}*", ""]
    return lines


def _replaced_markdown(attempt: Attempt) -> list[str]:
    """An answer that was answered again: folded, its text and stats line inside."""
    answer = attempt.answer
    mode = f" · {answer.details['mode']}" if answer.details.get("mode") else ""
    parts = [answer.text.strip() or "*(no answer)*", *_extras(answer), _comment(answer)]
    return fold(f"Replaced answer{mode}{_thumbs(answer)}", "\n\n".join(p for p in parts if p))


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def to_json(transcript: Transcript, exported_at: str) -> str:
    saved = transcript.saved
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": exported_at,
        "conversation": {
            "id": transcript.thread_id,
            "name": transcript.name,
            "created_at": transcript.created_at,
        },
        "settings": saved.get("settings"),
        "think": saved.get("think"),
        "exchanges": [_exchange_json(e) for e in transcript.exchanges],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _exchange_json(exchange: Exchange) -> dict[str, Any]:
    answer = exchange.answer
    document: dict[str, Any] = {
        "question": {
            "id": exchange.message_id,
            "text": exchange.question,
            "mode": exchange.command,
            "created_at": exchange.created_at,
        },
        "reasoning": exchange.reasoning,
        "answer": _answer_json(answer),
        "notes": exchange.notes,
    }
    if exchange.compare is not None:
        document["compare"] = compare_json(exchange.compare)
    if exchange.replaced:
        document["replaced"] = [
            {"answer": _answer_json(a.answer), "reasoning": a.reasoning} for a in exchange.replaced
        ]
    return document


def _answer_json(answer: Answer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "id": answer.id,
        "text": answer.text,
        "shown": answer.shown,
        "created_at": answer.created_at,
        **answer.details,
        "feedback": answer.feedback,
    }
