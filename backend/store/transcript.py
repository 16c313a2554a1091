"""A stored conversation read back as exchanges: question, reasoning, answer, notes.

Pure functions over Chainlit's thread dict (as the data layer returns it), so resume and
export are tested on hand-built steps. The chat marks its own answers: an answer
message carries ``metadata[SAVED_KEY]`` with the answer alone (without the italic note
and stats line shown under it), its mode, stats and whether it was stopped. Messages
without the mark (the chat's notes, "Task manually stopped.") are notes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SAVED_KEY = "hybrid_chat"  # in step metadata (answers) and thread metadata (settings, Think)


@dataclass
class Answer:
    id: str
    text: str  # the model's answer only
    shown: str  # what the message showed (answer, note, stats line)
    created_at: str | None
    details: dict[str, Any] = field(default_factory=dict)  # mode, stats, note, stopped…
    feedback: dict[str, Any] | None = None  # {"value": 0|1, "comment": …}


@dataclass
class Exchange:
    message_id: str
    question: str  # as typed (a /think suffix included)
    command: str | None  # the mode label the message was sent with
    created_at: str | None
    reasoning: list[dict[str, Any]] = field(default_factory=list)  # {"title", "text", …}
    answer: Answer | None = None
    notes: list[str] = field(default_factory=list)
    step_ids: list[str] = field(default_factory=list)  # every step after the question


@dataclass
class Transcript:
    thread_id: str
    name: str | None
    created_at: str | None
    metadata: dict[str, Any]
    exchanges: list[Exchange]

    @property
    def saved(self) -> dict[str, Any]:
        """The chat's own thread metadata (settings, Think state), or {}."""
        value = self.metadata.get(SAVED_KEY)
        return value if isinstance(value, dict) else {}


def as_dict(value: Any) -> dict[str, Any]:
    """Metadata as stored: a dict, JSON text, or nothing."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def read_thread(thread: Mapping[str, Any]) -> Transcript:
    exchanges: list[Exchange] = []
    for step in sorted(thread.get("steps") or [], key=lambda s: s.get("createdAt") or ""):
        if step.get("type") == "user_message":
            exchanges.append(_question(step))
        elif exchanges:
            _attach(exchanges[-1], step)
    return Transcript(
        thread_id=str(thread.get("id") or ""),
        name=thread.get("name"),
        created_at=thread.get("createdAt"),
        metadata=as_dict(thread.get("metadata")),
        exchanges=exchanges,
    )


def _question(step: dict[str, Any]) -> Exchange:
    return Exchange(
        message_id=str(step.get("id")),
        question=step.get("output") or "",
        command=step.get("command"),
        created_at=step.get("createdAt"),
    )


def _attach(exchange: Exchange, step: dict[str, Any]) -> None:
    exchange.step_ids.append(str(step.get("id")))
    kind = step.get("type")
    if kind == "llm":
        exchange.reasoning.append(
            {
                "title": step.get("name") or "",
                "text": step.get("output") or "",
                "start": step.get("start"),
                "end": step.get("end"),
            }
        )
    elif kind == "assistant_message":
        details = as_dict(step.get("metadata")).get(SAVED_KEY)
        if isinstance(details, dict) and details.get("role") == "answer":
            exchange.answer = _answer(step, details)
        elif step.get("output"):
            exchange.notes.append(step["output"])


def _answer(step: dict[str, Any], details: dict[str, Any]) -> Answer:
    feedback = step.get("feedback")
    if feedback:
        feedback = {"value": feedback.get("value"), "comment": feedback.get("comment")}
    return Answer(
        id=str(step.get("id")),
        text=str(details.get("answer") or ""),
        shown=step.get("output") or "",
        created_at=step.get("createdAt"),
        details={k: v for k, v in details.items() if k not in ("role", "answer")},
        feedback=feedback or None,
    )
