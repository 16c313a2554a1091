"""A stored conversation as files a person can keep: Markdown to read, JSON to process.

Markdown shows each question and answer, its mode and stats line, the thumbs given, and
the reasoning folded in a ``<details>`` block. JSON holds everything the chat stored:
every message, reasoning with its timing, mode, settings, stats, timestamps, feedback.
Both are pure functions of a `Transcript` and the export time.
"""

from __future__ import annotations

import json
import re
from typing import Any

from backend.store.transcript import Exchange, Transcript

FORMAT = "hybrid-chat-conversation"
VERSION = 1
THUMBS = {1: "👍", 0: "👎"}
_DETAILS_TAG = re.compile(r"</?details\b", re.IGNORECASE)


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
    for block in exchange.reasoning:
        text = _DETAILS_TAG.sub(lambda m: "&lt;" + m.group(0)[1:], block["text"].strip())
        lines += [f"<details><summary>{block['title'] or 'Reasoning'}</summary>", "", text]
        lines += ["", "</details>", ""]
    answer = exchange.answer
    if answer is not None:
        heading = "### Assistant"
        if answer.feedback and answer.feedback.get("value") in THUMBS:
            heading += f" {THUMBS[answer.feedback['value']]}"
        lines += [heading, "", answer.text.strip() or "*(no answer)*", ""]
        for extra in (answer.details.get("note"), answer.details.get("stats")):
            if extra:
                lines += [f"*{extra}*", ""]
        if answer.feedback and answer.feedback.get("comment"):
            lines += [f"> Feedback: {answer.feedback['comment']}", ""]
    lines += [f"> {_one_line(note)}" for note in exchange.notes]
    return lines + ([""] if exchange.notes else [])


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
    return {
        "question": {
            "id": exchange.message_id,
            "text": exchange.question,
            "mode": exchange.command,
            "created_at": exchange.created_at,
        },
        "reasoning": exchange.reasoning,
        "answer": None
        if answer is None
        else {
            "id": answer.id,
            "text": answer.text,
            "shown": answer.shown,
            "created_at": answer.created_at,
            **answer.details,
            "feedback": answer.feedback,
        },
        "notes": exchange.notes,
    }
