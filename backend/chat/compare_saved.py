"""Saved comparisons brought back when a conversation is reopened.

Chainlit's data layer stores no custom element, so each comparison's element is rebuilt
from its message's record (`CompareView.record`): both sides as they ended, the kept one
marked. The elements go into the thread that Chainlit sends to the page after
on_chat_resume. The latest comparison, while it is still the conversation's last answered
exchange, becomes the session's again, so "Continue from this answer" works as it did
before; the other sides' buttons answer that the chat has moved on, as they do live.
"""

from __future__ import annotations

import chainlit as cl
from chainlit.types import ThreadDict

from backend.chat import budget
from backend.chat.compare import ELEMENT, SESSION_KEY, CompareView
from backend.chat.compare_side import Side, default_kept
from backend.chat.history import History
from backend.store.transcript import SAVED_KEY, Comparison, Transcript


def restored_view(comparison: Comparison, question: str, *, interval_s: float) -> CompareView:
    """The comparison as it ended, on the message that showed it."""
    record = comparison.record
    choice = budget.chosen({budget.MODE_ID: str(record.get("budget"))})
    view = CompareView(str(record.get("question") or question), choice, interval_s=interval_s)
    view.id = comparison.id or view.id
    view.sides = [Side.restored(s) for s in comparison.sides]
    view.final = True
    if not comparison.final:
        view.kept = ""  # it never finished: nothing was kept
    elif view.side(comparison.kept) is not None:
        view.kept = comparison.kept
    else:
        view.kept = default_kept(view.sides)
    view.message = cl.Message(
        content="",
        id=comparison.message_id,
        created_at=comparison.created_at,
        metadata={SAVED_KEY: view.record()},
    )
    view.element = cl.CustomElement(
        name=ELEMENT, props=view.props(), display="inline", for_id=comparison.message_id
    )
    if isinstance(element_id := record.get("element_id"), str) and element_id:
        view.element.id = element_id
    view.message.metadata = {SAVED_KEY: view.record()}
    return view


def restore(
    thread: ThreadDict, transcript: Transcript, history: History, *, interval_s: float
) -> None:
    """Put every comparison's element into ``thread`` (sent to the page next) and make the
    latest one the session's when nothing was answered after it."""
    elements = thread.get("elements") or []
    latest: CompareView | None = None
    for exchange in transcript.exchanges:
        comparison = exchange.compare
        if comparison is not None and comparison.sides:
            view = restored_view(comparison, exchange.question, interval_s=interval_s)
            elements.append(view.element.to_dict())
            latest = view if comparison.final and exchange.answer is not None else latest
        if exchange.answer is not None and exchange.compare is None:
            latest = None  # answered after the comparison: the chat has moved on
    thread["elements"] = elements
    if latest is not None:
        latest.user_turn = next((t for t in reversed(history.turns) if t.role == "user"), None)
        cl.user_session.set(SESSION_KEY, latest)
