"""A stored conversation read back as exchanges: question, reasoning, answer, notes.

Pure functions over Chainlit's thread dict (as the data layer returns it), so resume and
export are tested on hand-built steps. The chat marks its own answers: an answer
message carries ``metadata[SAVED_KEY]`` with the answer alone (without the italic note
and stats line shown under it), its mode, stats and whether it was stopped. Messages
without the mark (the chat's notes, "Task manually stopped.") are notes.

A comparison's message is marked ``role: "compare"``: both sides as shown (reasoning,
answer, status, stats) and which one was kept; its ``answer`` is the kept side's, the
exchange's answer for the model. An exchange answered again ("Again") holds several
answers in time order: reasoning belongs to the answer after it, the latest answer is the
exchange's answer and the earlier ones are ``replaced``.

Thumbs given in the chat are stored on the answer's run step (Chainlit's buttons rate the
run that produced the message); a rating stored on the answer itself (``PUT /feedback``
with its id) comes first. A run's rating belongs to the last answer in it.
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
class Attempt:
    """An answer given and then replaced by answering again, with its reasoning."""

    answer: Answer
    reasoning: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Comparison:
    """Both sides of a comparison (``sides``: as the element showed them) and the kept one."""

    id: str
    kept: str
    sides: list[dict[str, Any]]  # key, label, thinking, status, reasoning, answer, stats…
    final: bool = True
    record: dict[str, Any] = field(default_factory=dict)  # as stored
    message_id: str = ""  # the comparison's message (the element belongs to it)
    created_at: str | None = None

    def side(self, key: str) -> dict[str, Any] | None:
        return next((s for s in self.sides if s.get("key") == key), None)


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
    replaced: list[Attempt] = field(default_factory=list)  # answered again: the old answers
    compare: Comparison | None = None

    def retire_answer(self) -> None:
        """A new answer is coming (Again): the current one and its reasoning are replaced."""
        if self.answer is not None:
            self.replaced.append(Attempt(self.answer, self.reasoning))
        self.answer, self.reasoning, self.compare = None, [], None


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
    """A step belongs to the question it is under (its parent, or its parent's); a step
    with no such parent, to the question before it in time. An answer given again after a
    later command (Status, Export) is under its own question's run, not the command's."""
    exchanges: list[Exchange] = []
    owner: dict[str, Exchange] = {}  # a step's id -> the exchange it belongs to
    steps = sorted(thread.get("steps") or [], key=lambda s: s.get("createdAt") or "")
    ratings = _run_ratings(steps)
    for step in steps:
        if step.get("type") == "user_message":
            exchanges.append(owner.setdefault(str(step.get("id")), _question(step)))
            continue
        exchange = owner.get(str(step.get("parentId"))) or (exchanges[-1] if exchanges else None)
        if exchange is None:
            continue
        owner[str(step.get("id"))] = exchange
        if step.get("type") == "assistant_message" and not step.get("feedback"):
            step = {**step, "feedback": ratings.get(str(step.get("id")))}
        _attach(exchange, step)
    return Transcript(
        thread_id=str(thread.get("id") or ""),
        name=thread.get("name"),
        created_at=thread.get("createdAt"),
        metadata=as_dict(thread.get("metadata")),
        exchanges=exchanges,
    )


def _run_ratings(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each rated run's rating, by the id of the last message in it."""
    rated = {
        str(s.get("id")): s["feedback"]
        for s in steps
        if s.get("type") == "run" and s.get("feedback")
    }
    last: dict[str, str] = {}
    for step in steps:
        if step.get("type") == "assistant_message" and step.get("parentId") in rated:
            last[str(step["parentId"])] = str(step.get("id"))
    return {answer: rated[run] for run, answer in last.items()}


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
        if exchange.answer is not None:
            exchange.retire_answer()  # reasoning after an answer starts the next one
        exchange.reasoning.append(
            {
                "title": step.get("name") or "",
                "text": step.get("output") or "",
                "start": step.get("start"),
                "end": step.get("end"),
            }
        )
    elif kind == "assistant_message":
        metadata = as_dict(step.get("metadata"))
        details = metadata.get(SAVED_KEY)
        if not isinstance(details, dict) or details.get("role") not in ("answer", "compare"):
            details = _older_compare(metadata.get("compare"))
        if details is None:
            if step.get("output"):
                exchange.notes.append(step["output"])
            return
        if details["role"] == "compare" and not details.get("final", True):
            # Stored when it began, never finished (the chat stopped): no answer to keep.
            exchange.compare = _comparison(details, step)
            return
        if exchange.answer is not None:
            exchange.retire_answer()
        exchange.answer = _answer(step, details)
        if details["role"] == "compare":
            exchange.compare = _comparison(details, step)


def _older_compare(summary: Any) -> dict[str, Any] | None:
    """A comparison saved before both sides were kept: only the kept answer is known."""
    if not isinstance(summary, dict) or not isinstance(summary.get("kept_answer"), str):
        return None
    return {
        "role": "compare",
        "id": summary.get("id"),
        "kept": summary.get("kept"),
        "answer": summary["kept_answer"],
        "sides": [],
    }


def _comparison(details: dict[str, Any], step: dict[str, Any]) -> Comparison:
    sides = details.get("sides")
    return Comparison(
        id=str(details.get("id") or ""),
        kept=str(details.get("kept") or ""),
        sides=[s for s in sides if isinstance(s, dict)] if isinstance(sides, list) else [],
        final=bool(details.get("final", True)),
        record=details,
        message_id=str(step.get("id")),
        created_at=step.get("createdAt"),
    )


def _answer(step: dict[str, Any], details: dict[str, Any]) -> Answer:
    feedback = step.get("feedback")
    if feedback:
        feedback = {"value": feedback.get("value"), "comment": feedback.get("comment")}
    return Answer(
        id=str(step.get("id")),
        text=str(details.get("answer") or ""),
        shown=step.get("output") or "",
        created_at=step.get("createdAt"),
        details=_answer_details(details),
        feedback=feedback or None,
    )


def _answer_details(details: dict[str, Any]) -> dict[str, Any]:
    """What is said about an answer besides its text (for a comparison: mode and kept side)."""
    if details.get("role") == "compare":
        return {"mode": details.get("mode") or "Compare", "kept": details.get("kept")}
    return {k: v for k, v in details.items() if k not in ("role", "answer")}
