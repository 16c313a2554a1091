"""Saved conversations inside a chat session: resume, edit and re-run, export, notices.

The database is reached only through Chainlit's data layer (`backend.store.layer`), whose
writes are queued: nothing here makes the answer wait. `Entry` is the session's ledger of
exchanges (which steps each one put on screen), so an edit can take later ones away:
Chainlit 2.12's ``edit_message`` removes the later *messages* it still holds (screen and
database) and calls on_message with the edited one, but leaves the reasoning and run steps
and, after a reconnect, holds no messages at all (on_message then gets None).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

import chainlit as cl
from chainlit.data import get_data_layer

from backend.chat.history import History
from backend.chat.modes import THINK_COMMAND, resolve_mode
from backend.chat.settings import SamplingSettings, SettingsState, clamp
from backend.chat.view import AnswerView
from backend.config import Config
from backend.store.database import Database, prepare
from backend.store.export import file_stem, to_json, to_markdown
from backend.store.layer import StoreDataLayer
from backend.store.transcript import SAVED_KEY, Transcript, read_thread

log = logging.getLogger("hybrid_chat")
WATCH_LIMIT_S = 30.0
EXPORT_DRAIN_S = 5.0


@dataclass
class Entry:
    message_id: str
    created_at: str | None
    text: str  # what the model was sent (mode suffix removed)
    answer: str | None = None
    step_ids: list[str] = field(default_factory=list)


@dataclass
class Saving:
    """Per-session bookkeeping: the ledger and whether the notice was given."""

    entries: list[Entry] = field(default_factory=list)
    told_unsaved: bool = False


# -- opening ------------------------------------------------------------------------
_database: Database | None = None


def open_layer(config: Config) -> StoreDataLayer | None:
    """Prepare the database once; None (history off, reason in `history_off`) on failure."""
    global _database
    if not config.save_history:
        log.info("History is off (SAVE_HISTORY=off): conversations are not saved")
        return None
    _database = prepare(config)
    if not _database.ok:
        log.warning("History is off: %s", _database.problem)
        return None
    log.info("Conversations are saved in %s", _database.display)
    # Chainlit warns at every start that elements are not kept: by design. A comparison is
    # rebuilt from its record (compare_saved.py), and Export makes its files anew each time.
    chainlit_log = logging.getLogger("chainlit")
    level = chainlit_log.level
    chainlit_log.setLevel(logging.ERROR)
    try:
        return StoreDataLayer(_database)
    finally:
        chainlit_log.setLevel(level)


def history_off() -> str | None:
    return None if _database is None or _database.ok else _database.problem


def layer() -> StoreDataLayer | None:
    data_layer = get_data_layer()
    return data_layer if isinstance(data_layer, StoreDataLayer) else None


async def _note(text: str) -> None:
    await cl.Message(content=text, author="Chat").send()


# -- pure: from a stored conversation back to a session -------------------------------
def entries_from(transcript: Transcript) -> list[Entry]:
    """The answered exchanges, as the model saw them (reasoning left out)."""
    entries = []
    for exchange in transcript.exchanges:
        if exchange.answer is None:
            continue  # a command, a refused or failed message: the model never answered
        mode = resolve_mode(exchange.question, button_on=exchange.command == THINK_COMMAND)
        entry = Entry(exchange.message_id, exchange.created_at, mode.text, exchange.answer.text)
        entry.step_ids = list(exchange.step_ids)
        entries.append(entry)
    return entries


def history_from(entries: list[Entry]) -> History:
    history = History()
    for entry in entries:
        history.add_user(entry.text)
        history.add_assistant(entry.answer or "")
    return history


def rebuild_history(thread: dict) -> History:
    """The model's history from a stored thread: questions and answers, no reasoning."""
    return history_from(entries_from(read_thread(thread)))


def restore_settings(saved: dict) -> tuple[SettingsState, bool]:
    """Settings and Think state from thread metadata; junk values keep the defaults."""
    state = SettingsState()
    values = saved.get("settings")
    if isinstance(values, dict):
        state.current, _ = clamp(values, state.current)
    overridden = saved.get("overridden")
    if isinstance(overridden, list):
        state.overridden = {n for n in overridden if n in SamplingSettings.model_fields}
    return state, saved.get("think") is not False


# -- session hooks ------------------------------------------------------------------
def thread_state(settings: SettingsState, think: bool) -> dict:
    return {
        "settings": settings.current.model_dump(),
        "overridden": sorted(settings.overridden),
        "think": think,
    }


def save_thread_state(settings: SettingsState, think: bool) -> None:
    """Queue the settings and Think state into the thread's metadata (never waits)."""
    data_layer, session = layer(), cl.context.session
    if data_layer is None or not session.has_first_interaction or not session.thread_id:
        return
    state = thread_state(settings, think)
    if cl.user_session.get("saved_thread_state") == state:
        return  # unchanged: no write
    cl.user_session.set("saved_thread_state", state)
    metadata = {SAVED_KEY: state}
    asyncio.ensure_future(data_layer.update_thread(session.thread_id, metadata=metadata))


def record_turn(
    saving: Saving, message: cl.Message, text: str, view: AnswerView, run_id: str | None
) -> None:
    """Add the finished (or stopped) exchange to the ledger."""
    step_ids = [run_id, _id(view.step), _id(view.message)]
    record_entry(saving, message, text, view.answer, step_ids)


def record_entry(
    saving: Saving, message: cl.Message, text: str, answer: str, step_ids: list[str | None]
) -> None:
    """Add an exchange (an answer, a comparison's kept answer) to the ledger."""
    entry = Entry(message.id, message.created_at, text, answer)
    entry.step_ids = [i for i in step_ids if i]
    saving.entries.append(entry)


def replace_answer(
    saving: Saving, step_id: str, answer: str, new_steps: list[str | None] | None = None
) -> None:
    """The exchange that showed ``step_id`` has a new answer (answered again, or the other
    side of a comparison kept); ``new_steps``: the steps that showed the new one."""
    for entry in saving.entries:
        if step_id in entry.step_ids:
            entry.answer = answer
            entry.step_ids += [i for i in new_steps or [] if i]
            return


def _id(step: cl.Step | cl.Message | None) -> str | None:
    return step.id if step is not None else None


async def undo_after(saving: Saving, message: cl.Message) -> list[Entry] | None:
    """For an edited message: take its exchange and later ones off the screen and out of
    the database; the entries kept, or None when ``message`` is not an earlier one."""
    index = next((i for i, e in enumerate(saving.entries) if e.message_id == message.id), None)
    if index is None:
        return None
    current = cl.context.current_step
    for entry in saving.entries[index:]:
        ids = entry.step_ids + ([entry.message_id] if entry is not saving.entries[index] else [])
        for step_id in ids:
            await cl.context.emitter.delete_step({"id": step_id})
    data_layer, thread_id = layer(), cl.context.session.thread_id
    created_at = saving.entries[index].created_at
    if data_layer is not None and thread_id and created_at:
        keep = [message.id] + ([current.id] if current else [])
        await data_layer.delete_steps_after(thread_id, created_at, keep)
    del saving.entries[index:]
    return saving.entries


async def notice_unsaved(saving: Saving) -> None:
    """Once per session: history is not being saved right now."""
    data_layer = layer()
    if data_layer is None or data_layer.writes.healthy or saving.told_unsaved:
        return
    saving.told_unsaved = True
    await _note(
        f"History is not being saved right now ({data_layer.writes.problem}). The chat works "
        "as usual and keeps what you write; saving resumes by itself when the database is back."
    )


def watch_saving(saving: Saving) -> None:
    """In the background: tell the user if this turn's writes cannot be saved."""
    if (data_layer := layer()) is not None:
        asyncio.ensure_future(_watch(data_layer, saving))


async def _watch(data_layer: StoreDataLayer, saving: Saving) -> None:
    if await data_layer.writes.saved(data_layer.writes.submitted, WATCH_LIMIT_S) is False:
        await notice_unsaved(saving)


async def announce_history_off() -> None:
    if problem := history_off():
        await _note(f"History is off: {problem}. This conversation is not being saved.")


async def export(skip_commands: set[str]) -> None:
    """Send this conversation as Markdown and JSON files."""
    data_layer, thread_id = layer(), cl.context.session.thread_id
    if data_layer is None:
        await _note(f"Export needs saved history, which is off: {history_off() or 'no database'}.")
        return
    await data_layer.writes.drain(EXPORT_DRAIN_S, group=thread_id)
    thread = await data_layer.get_thread(thread_id) if thread_id else None
    if not thread:
        await _note("There is nothing to export yet: ask something first.")
        return
    transcript = read_thread(thread)
    transcript.exchanges = [e for e in transcript.exchanges if e.command not in skip_commands]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    stem = file_stem(transcript)
    markdown, document = to_markdown(transcript, now), to_json(transcript, now)
    files = [
        cl.File(name=f"{stem}.md", content=markdown.encode(), mime="text/markdown"),
        cl.File(name=f"{stem}.json", content=document.encode(), mime="application/json"),
    ]
    text = "This conversation, ready to download (the files are not kept: export again later):"
    await cl.Message(content=text, author="Chat", elements=files).send()
