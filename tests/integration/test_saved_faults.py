"""A conversation database that fails never stops the chat (``chainlit run app.py``, real
SQLite and PostgreSQL): one that cannot be opened turns history off with the reason, one
that is locked or goes away mid-chat gets one notice while answers stream, and saving
resumes by itself with nothing lost."""

from __future__ import annotations

import asyncio
import sqlite3

from backend.engine.process import free_port
from tests.support.chat_socket import ChatSession
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.saved_chat import FAST, chat, outputs, saved_steps, threads, until


async def test_unreachable_database_url_history_off_chat_on(tmp_path):
    url = f"postgresql://chat@127.0.0.1:{free_port()}/chats"
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-off.log", DATABASE_URL=url) as app:
            async with ChatSession(app.url) as tab:
                reply = await tab.ask("still there?")
                notes = [i.content for i in tab.shown.values() if i.author == "Chat"]
    assert "t8" in reply.answer
    assert any(n.startswith("History is off:") and "127.0.0.1" in n for n in notes)


async def test_corrupt_sqlite_file_history_off_file_untouched(tmp_path):
    path = tmp_path / "chat.db"
    path.write_bytes(b"not a database" * 1000)
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-corrupt.log") as app:
            async with ChatSession(app.url) as tab:
                reply = await tab.ask("hello")
                notes = [i.content for i in tab.shown.values() if i.author == "Chat"]
    assert "t8" in reply.answer
    assert any("not a SQLite database" in n for n in notes)
    assert path.read_bytes() == b"not a database" * 1000


async def test_a_new_conversation_is_in_the_list_the_page_asks_for_when_told_of_it(tmp_path):
    """Chainlit tells the page of a new conversation ("first_interaction") and the page's
    sidebar lists the conversations then, once: the new one must be in it, also when its
    write is held back (here a lock shorter than the busy timeout; the writer waits)."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-listed.log") as app:
            async with ChatSession(app.url) as tab:
                blocker = sqlite3.connect(tmp_path / "chat.db", isolation_level=None)
                blocker.execute("BEGIN IMMEDIATE")
                loop = asyncio.get_running_loop()
                loop.call_later(0.8, lambda: (blocker.execute("ROLLBACK"), blocker.close()))
                await tab.send("Capital of France?")
                await tab.wait_for(lambda: "first_interaction" in tab.events, 30)
                listed = await threads(app, tab.cookie)  # as the page asks, straight away
                await tab.wait_idle()
    assert [(t["id"], t["name"]) for t in listed] == [(tab.thread_id, "Capital of France?")]


async def test_locked_database_one_notice_answers_stream_saving_resumes(tmp_path):
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-locked.log") as app:
            async with ChatSession(app.url) as tab:
                await tab.ask("before the lock")
                blocker = sqlite3.connect(tmp_path / "chat.db", isolation_level=None)
                blocker.execute("BEGIN EXCLUSIVE")
                try:
                    first = await tab.ask("during the lock, one")
                    notice = "History is not being saved right now"
                    await tab.wait_for(lambda: notice in "\n".join(tab.since(0).notes), 60)
                    second = await tab.ask("during the lock, two")
                finally:
                    blocker.execute("ROLLBACK")
                    blocker.close()
                assert "t8" in first.answer and "t8" in second.answer
                assert sum(notice in n for n in tab.since(0).notes) == 1

                async def all_saved():
                    steps = await saved_steps(app, tab.cookie, tab.thread_id)
                    return len(outputs(steps, "assistant_message")) == 3 and steps

                steps = await until(all_saved, 60)
                users = outputs(steps, "user_message")
                assert users == ["before the lock", "during the lock, one", "during the lock, two"]


async def test_postgresql_stopped_mid_chat_one_notice_answers_stream_saving_resumes(
    tmp_path, pg_server
):
    url = pg_server.new_database()
    notice = "History is not being saved right now"
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-pg-outage.log", DATABASE_URL=url) as app:
            async with ChatSession(app.url) as tab:
                await tab.ask("before the outage")
                await asyncio.to_thread(pg_server.stop)
                try:
                    first = await tab.ask("during the outage, one")
                    await tab.wait_for(lambda: notice in "\n".join(tab.since(0).notes), 60)
                    second = await tab.ask("during the outage, two")
                finally:
                    await asyncio.to_thread(pg_server.start)
                assert "t8" in first.answer and "t8" in second.answer
                assert sum(notice in n for n in tab.since(0).notes) == 1
                third = await tab.ask("after the outage")
                assert "t8" in third.answer

                async def saved_users():
                    steps = await saved_steps(app, tab.cookie, tab.thread_id)
                    users = outputs(steps, "user_message")
                    done = len(users) == 4 and len(outputs(steps, "assistant_message")) >= 4
                    return users if done else None

                users = await until(saved_users, 60)
    assert users == [
        "before the outage",
        "during the outage, one",
        "during the outage, two",
        "after the outage",
    ]
