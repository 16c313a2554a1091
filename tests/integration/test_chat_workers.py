"""CHAT_WORKERS=2 ./start.sh: two chat workers behind nginx on one address.

The model server is the scripted fake (start.sh sees it answering and starts only the
chat). Checks: browser-like sessions opened through nginx (all from 127.0.0.1) land on
both workers, counted by each worker's own /metrics; a conversation answers through
nginx; a session of one worker resumes its saved conversation on the other (shared
database, SQLite or PostgreSQL, and login secret); Ctrl-C stops the workers and nginx.
"""

from __future__ import annotations

import asyncio

import pytest

from backend.engine.process import free_port
from tests.support.chat_socket import ChatSession
from tests.support.fake_openai_server import FakeOpenAIServer, Script
from tests.support.workers import active_sessions, listening, start_workers, stopped

SESSIONS = 12  # all on one worker by chance: 2 in 2**12


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_two_workers_share_the_tabs_and_the_saved_conversations(engine, tmp_path, request):
    database_url = request.getfixturevalue("pg_server").new_database() if engine != "sqlite" else ""
    async with FakeOpenAIServer(Script(first_token_s=0.02, token_interval_s=0.01)) as model:
        port = free_port()
        env = {"CHAT_WORKERS": "2", "VLLM_BASE_URL": model.base_url, "PORT": str(port),
               "RUN_DIR": str(tmp_path / "run"), "DATA_DIR": str(tmp_path / "data"),
               "DATABASE_URL": database_url, "CHAT_PASSWORD": "", "USERS_FILE": "",
               "CHAINLIT_AUTH_SECRET": ""}  # fmt: skip
        start, workers = await start_workers(env, f"start-sh-workers-{engine}.log")
        try:
            assert len(workers) == 2 and port not in workers, start.log()
            url = f"http://127.0.0.1:{port}"
            tabs = [ChatSession(url) for _ in range(SESSIONS)]
            await asyncio.gather(*(tab.connect() for tab in tabs))
            counts = [await asyncio.to_thread(active_sessions, w) for w in workers]
            assert sum(counts) == SESSIONS and min(counts) > 0, counts

            reply = await tabs[0].ask("What is 2+2?")
            assert "t0 t1" in reply.answer, reply
            assert tabs[0].thread_id
            # The same conversation, resumed on each worker directly: shared database
            # and a login cookie signed with the shared secret.
            for worker in workers:
                direct = f"http://127.0.0.1:{worker}"
                resumed = ChatSession(direct, cookie=tabs[0].cookie, thread_id=tabs[0].thread_id)
                async with resumed:
                    assert resumed.resumed is not None, resumed.resume_error
                    more = await resumed.ask("And times 3?")
                    assert "t0 t1" in more.answer
            await asyncio.gather(*(tab.close() for tab in tabs))
        finally:
            code = await asyncio.to_thread(start.interrupt, 30)
        assert await stopped([port, *workers]), start.log()
        assert not any(listening(p) for p in [port, *workers])
        assert code in (0, 130), code
        assert not (tmp_path / "run" / "nginx" / "nginx.pid").exists()  # nginx exited
