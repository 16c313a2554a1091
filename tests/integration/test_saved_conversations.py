"""Saved conversations against the real chat (``chainlit run app.py``) and real SQLite:
kept through a SIGKILL, resumed from the list with the model seeing answers and not
reasoning, with the conversation's settings and Think state, exported. Edit and re-run:
test_saved_edit.py. A database that fails: test_saved_faults.py.

The model server is the scripted fake (tests/support): it records every request body,
so the tests see exactly what the model was sent.
"""

from __future__ import annotations

import json
import os
import signal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.auth.client import login_cookie
from backend.chat import budget
from backend.store.transcript import SAVED_KEY, as_dict
from tests.support.chat_socket import ChatSession
from tests.support.fake_openai_server import FakeOpenAIServer, Script
from tests.support.saved_chat import (
    FAST,
    chat,
    outputs,
    saved_steps,
    sent_messages,
    stop_mid_answer,
    threads,
    until,
)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_sigkill_then_resume_from_the_list_and_continue(tmp_path, engine, request):
    url = request.getfixturevalue("pg_server").new_database() if engine == "postgresql" else ""
    async with FakeOpenAIServer(Script(first_token_s=0.05, token_interval_s=0.01)) as server:
        with chat(server, tmp_path, f"saved-{engine}-1.log", DATABASE_URL=url) as app:
            cookie = await login_cookie(app.url)
            tab = ChatSession(app.url, cookie=cookie)
            await tab.connect()
            first = await tab.ask("What is the capital of France?", think=True)
            assert first.reasoning and "t8" in first.answer
            await tab.ask("And Italy? /no_think", think=True)
            server.script.token_interval_s = 1.0  # the third answer streams slowly
            mark = tab.mark()
            await tab.send("Tell me a long story")
            await tab.wait_for(lambda: "t1" in tab.since(mark).text(), 30)
            os.killpg(app.process.pid, signal.SIGKILL)  # mid-answer
            app.process.wait(timeout=10)
            await tab.close()
        server.script.token_interval_s = 0.01
        with chat(server, tmp_path, f"saved-{engine}-2.log", DATABASE_URL=url) as app:
            listed = await threads(app, cookie)
            assert [t["id"] for t in listed] == [tab.thread_id]
            steps = await saved_steps(app, cookie, tab.thread_id)
            assert outputs(steps, "user_message") == [
                "What is the capital of France?",
                "And Italy? /no_think",
                "Tell me a long story",
            ]
            assert len(outputs(steps, "assistant_message")) == 2  # both completed answers
            assert [s["type"] for s in steps].count("llm") == 1  # kept for the screen
            async with ChatSession(app.url, cookie=cookie, thread_id=tab.thread_id) as again:
                shown = [s["output"] for s in again.resumed["steps"]]
                assert "What is the capital of France?" in shown
                await again.ask("Summarise our chat", think=False)
            messages = sent_messages(server)
            answers = [c for role, c in messages if role == "assistant"]
            assert [c for role, c in messages if role == "user"] == [
                "What is the capital of France?",
                "And Italy?",
                "Summarise our chat",
            ]
            # The thinking answer goes back without its reasoning (t0…t7), the other whole.
            assert len(answers) == 2 and answers[0].split() == [f"t{i}" for i in range(8, 16)]
            assert answers[1].split() == [f"t{i}" for i in range(16)]


async def test_export_has_the_conversation_and_its_feedback(tmp_path):
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-export.log") as app:
            async with ChatSession(app.url) as tab:
                reply = await tab.ask("Explain rain", think=True)
                answer_id = reply.answers[0].id
                feedback = {"forId": answer_id, "value": 1, "threadId": tab.thread_id}
                async with httpx.AsyncClient(
                    base_url=app.url, headers={"Cookie": tab.cookie}
                ) as http:
                    put = await http.put("/feedback", json={"feedback": feedback, "sessionId": ""})
                assert put.status_code == 200, put.text
                before = set(tab.elements)
                await tab.send("", extra={"command": "Export"})
                await tab.wait_idle()
                await tab.wait_for(lambda: len(set(tab.elements) - before) == 2, 10)
                elements = [v[-1] for k, v in tab.elements.items() if k not in before]
                files = {}
                async with httpx.AsyncClient(
                    base_url=app.url, headers={"Cookie": tab.cookie}
                ) as http:
                    for element in elements:
                        path = f"/project/file/{element['chainlitKey']}"
                        got = await http.get(path, params={"session_id": tab.session_id})
                        files[element["name"].rsplit(".", 1)[1]] = got.text
    assert "Explain rain" in files["md"] and "<details><summary>Thought for" in files["md"]
    assert "👍" in files["md"]
    doc = json.loads(files["json"])
    exchange = doc["exchanges"][0]
    assert exchange["answer"]["feedback"]["value"] == 1 and exchange["reasoning"][0]["text"]
    assert exchange["question"]["mode"] == "Think" and doc["settings"]["temperature"] == 0.6


async def test_stopped_answer_odd_input_and_unknown_conversation(tmp_path):
    long_text = "word " * 40_000  # 200 kB
    odd = "naïve 👩‍💻 \u202eRTL\u202c 中文 NUL\x00here"
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-odd.log") as app:
            async with ChatSession(app.url) as tab:
                await stop_mid_answer(server, tab)
                server.script.token_interval_s = 0.01
                await tab.ask(odd)
                await tab.ask(long_text)

                async def saved():
                    steps = await saved_steps(app, tab.cookie, tab.thread_id)
                    answers = outputs(steps, "assistant_message")
                    return steps if len([a for a in answers if "t" in a]) >= 3 else None

                steps = await until(saved, 60)
            users = outputs(steps, "user_message")
            assert users == ["stop me", odd.replace("\x00", ""), long_text]
            stopped = outputs(steps, "assistant_message")[:2]  # Chainlit's note, then ours
            assert stopped[0] == "Task manually stopped."
            assert "t1" in stopped[1] and stopped[1].endswith("*Stopped.*")
            async with ChatSession(app.url, thread_id="no-such-conversation") as lost:
                assert lost.resume_error and lost.resumed is None
                await lost.wait_for(lambda: lost.chat_started, 30)
                reply = await lost.ask("a new chat works")
            assert "t8" in reply.answer


async def test_a_message_stopped_before_its_answer_began_is_answered_stopped_and_saved(tmp_path):
    """Stop pressed while a message is next in line cancels that message before its answer
    begins: once the answer before it is done, it ends as "Stopped." on screen and saved,
    so every question keeps its answer and the model's history its order."""
    slow = Script(first_token_s=0.5, token_interval_s=0.05)
    async with FakeOpenAIServer(slow) as server:
        with chat(server, tmp_path, "saved-stop-queued.log") as app:
            async with ChatSession(app.url) as tab:
                mark = tab.mark()
                await tab.send("first")
                await tab.send("second")
                queued = lambda: any("next in line" in n for n in tab.since(mark).notes)  # noqa: E731
                await tab.wait_for(queued, 30)
                await tab.stop()
                await tab.wait_idle()
                shown = [a.content for a in tab.since(mark).answers]
                assert shown[-1].endswith("*Stopped.*") and any("t15" in a for a in shown)
                server.script.first_token_s = 0.0
                await tab.ask("third")
                assert sent_messages(server) == [
                    ("user", "first"),
                    ("assistant", " ".join(f"t{i}" for i in range(16))),
                    ("user", "second"),
                    ("user", "third"),
                ]

                async def saved():
                    steps = await saved_steps(app, tab.cookie, tab.thread_id)
                    records = [as_dict(s.get("metadata")).get(SAVED_KEY) for s in steps]
                    answers = [r for r in records if r and r.get("role") == "answer"]
                    return (steps, answers) if len(answers) >= 3 else None

                steps, answers = await until(saved, 30)
    assert outputs(steps, "user_message") == ["first", "second", "third"]
    assert [a["stopped"] for a in answers] == [False, True, False]


async def test_resume_after_a_restart_restores_settings_and_think(tmp_path):
    """The conversation's panel values and its Think button come back with it, and its next
    answer is asked with them. The thinking-budget picker is there as in a new chat, and the
    reopened tab counts as an open session before it asks anything."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-settings-1.log") as app:
            async with ChatSession(app.url) as tab:
                await tab.change_settings({"temperature": 0.2, "max_tokens": 300})
                await tab.ask("first, without thinking", think=False)
                cookie, thread_id = tab.cookie, tab.thread_id
            assert server.record.bodies[-1]["temperature"] == 0.2

            async def state_saved():
                async with httpx.AsyncClient(base_url=app.url, headers={"Cookie": cookie}) as http:
                    thread = (await http.get(f"/project/thread/{thread_id}", timeout=30)).json()
                return as_dict(thread.get("metadata")).get(SAVED_KEY)

            saved = await until(state_saved)
            assert saved["think"] is False and saved["settings"]["temperature"] == 0.2
        with chat(server, tmp_path, "saved-settings-2.log") as app:
            async with ChatSession(app.url, cookie=cookie, thread_id=thread_id) as again:
                commands = [d for e, d in again.received if e == "set_commands"][-1]
                think = next(c for c in commands if c["id"] == "Think")
                assert think["selected"] is False
                panel = [d for e, d in again.received if e == "chat_settings"][-1]
                values = {w["id"]: w.get("initial") for w in panel}
                assert values["temperature"] == 0.2 and values["max_tokens"] == 300
                modes = [d for e, d in again.received if e == "set_modes"][-1]
                assert [m["id"] for m in modes] == [budget.MODE_ID]
                assert await open_sessions(app) == 1
                await again.ask("second", think=False)
            body = server.record.bodies[-1]
            assert body["temperature"] == 0.2 and body["max_tokens"] == 300
            assert [m["content"] for m in body["messages"] if m["role"] == "user"] == [
                "first, without thinking",
                "second",
            ]


async def open_sessions(app) -> float:
    """The chat's own count of open sessions, from its /metrics."""
    async with httpx.AsyncClient(base_url=app.url) as http:
        text = (await http.get("/metrics", timeout=30)).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families["hybrid_chat_active_sessions"].samples[0].value
