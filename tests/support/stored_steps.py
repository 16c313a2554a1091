"""Hand-built stored steps, shaped as Chainlit 2.12's data layer returns them."""

from __future__ import annotations

import json

from backend.store.transcript import SAVED_KEY


def clock():
    n = 0

    def tick() -> str:
        nonlocal n
        n += 1
        return f"2026-12-01T10:00:{n:02d}.000000Z"

    return tick


def user(tick, id_, text, command="Think"):
    return {
        "id": id_,
        "type": "user_message",
        "name": "User",
        "output": text,
        "command": command,
        "createdAt": tick(),
        "metadata": "{}",
    }


def run(tick, id_, parent, feedback=None, comment=""):
    """The ``on_message`` run; ``feedback``: rated with the chat's thumbs (they rate the run)."""
    step = {
        "id": id_,
        "type": "run",
        "name": "on_message",
        "parentId": parent,
        "output": "",
        "createdAt": tick(),
        "metadata": "{}",
    }
    if feedback is not None:
        step["feedback"] = _rating(id_, feedback, comment)
    return step


def _rating(for_id, value, comment=""):
    return {"forId": for_id, "id": "f-" + for_id, "value": value, "comment": comment}


def reasoning(tick, id_, text, title="Thought for 1.2 s", parent=None):
    step = {
        "id": id_,
        "type": "llm",
        "name": title,
        "output": text,
        "createdAt": tick(),
        "start": "s",
        "end": "e",
        "metadata": "{}",
    }
    if parent is not None:
        step["parentId"] = parent
    return step


def answer(
    tick,
    id_,
    text,
    *,
    mode="Think",
    stats="first token 80 ms",
    note=None,
    feedback=None,
    stopped=False,
    replaced=None,
    parent=None,
):
    shown = "\n\n".join([text] + [f"*{x}*" for x in (note, stats) if x])
    if replaced:
        shown += "\n\n*Replaced by the answer below.*"
    details = {
        "role": "answer",
        "answer": text,
        "mode": mode,
        "stats": stats,
        "note": note,
        "stopped": stopped,
        "settings": {"temperature": 0.6},
    }
    if replaced is not None:
        details["replaced"] = replaced
    step = {
        "id": id_,
        "type": "assistant_message",
        "name": "Qwen3 Hybrid Chat",
        "output": shown,
        "createdAt": tick(),
        "metadata": json.dumps({SAVED_KEY: details}),
    }
    if parent is not None:
        step["parentId"] = parent
    if feedback is not None:
        step["feedback"] = _rating(id_, feedback)
    return step


def note(tick, id_, text, parent=None):
    step = {
        "id": id_,
        "type": "assistant_message",
        "name": "Chat",
        "output": text,
        "createdAt": tick(),
        "metadata": "{}",
    }
    if parent is not None:
        step["parentId"] = parent
    return step


def thread(steps, metadata=None, name="Capital of France"):
    return {
        "id": "thread-1",
        "name": name,
        "createdAt": "2026-12-01T10:00:00Z",
        "metadata": json.dumps(metadata or {}),
        "steps": steps,
    }


def side(key, answer, *, reasoning="", status="done", error=None):
    """A comparison side as stored (`Side.record`)."""
    thinking = key == "think"
    return {
        "key": key,
        "label": "Think" if thinking else "No think",
        "thinking": thinking,
        "status": status,
        "reasoning": reasoning,
        "answer": answer,
        "thought_s": 2.5 if reasoning else None,
        "budget_cut": False,
        "error": error,
        "note": None,
        "stats": {
            "ttft_ms": 120 if thinking else 40,
            "total_s": 3.5 if thinking else 1.25,
            "reasoning_tokens": 30 if thinking else None,
            "answer_tokens": 12 if thinking else 20,
            "tokens_per_s": 12.5 if thinking else 16.0,
        },
    }


def compare(tick, id_, sides, *, kept="think", final=True, question="", feedback=None):
    """A comparison's message as the chat stores it (`CompareView.record`)."""
    kept_side = next((s for s in sides if s["key"] == kept), None)
    record = {
        "role": "compare",
        "mode": "Compare",
        "answer": kept_side["answer"] if kept_side and final else "",
        "id": "cmp-" + id_,
        "element_id": "el-" + id_,
        "question": question,
        "budget": "settings",
        "kept": kept,
        "final": final,
        "sides": sides,
    }
    step = {
        "id": id_,
        "type": "assistant_message",
        "name": "Qwen3 Hybrid Chat",
        "output": "",
        "createdAt": tick(),
        "metadata": json.dumps({SAVED_KEY: record}),
    }
    if feedback is not None:
        step["feedback"] = {"forId": id_, "id": "f-" + id_, "value": feedback, "comment": ""}
    return step
