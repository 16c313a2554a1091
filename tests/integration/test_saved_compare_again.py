"""Comparisons and "Again" in saved conversations, against the real chat and a real
database: reopened, the model sees what it saw live (the kept side, the replacing answer),
the comparison is on screen again, and the export shows both sides and what was replaced.

The model server is the scripted fake: a thinking answer streams reasoning t0…t7 then the
answer t8…t15, a no-think answer t0…t15, so each answer says which mode gave it.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from backend.store.transcript import SAVED_KEY, as_dict
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.saved_chat import (
    FAST,
    chat,
    outputs,
    saved_steps,
    sent_messages,
    stop_mid_answer,
    until,
)

THINKING = " ".join(f"t{i}" for i in range(8, 16))
NO_THINK = " ".join(f"t{i}" for i in range(16))


async def act(app: ChatApp, tab: ChatSession, name: str, payload: dict) -> None:
    """Press an action's button (a comparison's "Continue from this answer", "Again")."""
    action = {"name": name, "payload": payload, "id": str(uuid.uuid4()), "forId": ""}
    async with httpx.AsyncClient(base_url=app.url, headers={"Cookie": tab.cookie}) as http:
        reply = await http.post(
            "/project/action", json={"sessionId": tab.session_id, "action": action}, timeout=120
        )
    reply.raise_for_status()


async def compare(tab: ChatSession, question: str) -> dict:
    """Ask in both modes; the comparison's final props."""
    await tab.send(question, extra={"command": "Compare"})
    await tab.wait_idle()
    versions = [v for vs in tab.elements.values() for v in vs if v.get("name") == "Compare"]
    return versions[-1]["props"]


def unfinished_comparisons(steps: list[dict]) -> int:
    """Comparisons stored when they began whose final record has not landed yet."""
    records = [as_dict(s.get("metadata")).get(SAVED_KEY) for s in steps]
    return sum(
        1
        for r in records
        if isinstance(r, dict) and r.get("role") == "compare" and not r.get("final", True)
    )


async def saved(app: ChatApp, tab: ChatSession, answers: int) -> list[dict]:
    """The stored steps once ``answers`` answers and every comparison's final record landed
    (a comparison is stored when it begins, then again when it ends)."""

    async def landed():
        steps = await saved_steps(app, tab.cookie, tab.thread_id)
        enough = len(outputs(steps, "assistant_message")) >= answers
        return steps if enough and not unfinished_comparisons(steps) else None

    return await until(landed)


async def export(app: ChatApp, tab: ChatSession) -> dict[str, str]:
    before = set(tab.elements)
    await tab.send("", extra={"command": "Export"})
    await tab.wait_idle()
    await tab.wait_for(lambda: len(set(tab.elements) - before) == 2, 10)
    files = {}
    async with httpx.AsyncClient(base_url=app.url, headers={"Cookie": tab.cookie}) as http:
        for key in set(tab.elements) - before:
            element = tab.elements[key][-1]
            path = f"/project/file/{element['chainlitKey']}"
            got = await http.get(path, params={"session_id": tab.session_id})
            files[element["name"].rsplit(".", 1)[1]] = got.text
    return files


def history_sent(server: FakeOpenAIServer) -> list[tuple[str, str]]:
    return sent_messages(server)[:-1]  # what came before the last question


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_reopened_conversation_continues_from_the_kept_side_and_the_new_answer(
    tmp_path, engine, request
):
    url = request.getfixturevalue("pg_server").new_database() if engine == "postgresql" else ""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, f"saved-compare-{engine}.log", DATABASE_URL=url) as app:
            async with ChatSession(app.url) as tab:
                props = await compare(tab, "Capital of France?")
                await act(app, tab, "compare_keep", {"id": props["id"], "side": "no_think"})
                await tab.ask("And Italy?", think=True)
                await act(app, tab, "regenerate", {"thinking": False})  # Again (No think)
                live = [("user", "Capital of France?"), ("assistant", NO_THINK)]
                live += [("user", "And Italy?"), ("assistant", NO_THINK)]
                await tab.ask("Live check")
                assert history_sent(server) == live
                await saved(app, tab, answers=4)
            async with ChatSession(app.url, cookie=tab.cookie, thread_id=tab.thread_id) as again:
                shown = [e for e in again.resumed["elements"] if e["name"] == "Compare"]
                assert len(shown) == 1 and shown[0]["forId"] in {
                    s["id"] for s in again.resumed["steps"]
                }
                restored = shown[0]["props"]
                assert restored["final"] and restored["kept"] == "no_think"
                assert [s["answer"].strip() for s in restored["sides"]] == [THINKING, NO_THINK]
                assert restored["sides"][0]["reasoning"].strip() and restored["sides"][0]["stats"]
                await again.ask("Summarise", think=False)
                assert history_sent(server) == live + [
                    ("user", "Live check"),
                    ("assistant", NO_THINK),
                ]
                files = await export(app, again)
    md, doc = files["md"], json.loads(files["json"])
    assert "### Think\n" in md and "### No think · kept" in md
    kept_at = md.index("### No think · kept")
    assert md.index("### Think\n") < md.index(THINKING) < kept_at
    assert md.index(NO_THINK, kept_at) < md.index("## You · Think")
    assert "<details><summary>Thought for" in md and "first token" in md
    assert "<details><summary>Replaced answer · Think" in md
    first, second = doc["exchanges"][:2]
    assert first["compare"]["kept"] == "no_think" and first["answer"]["text"].strip() == NO_THINK
    assert [s["kept"] for s in first["compare"]["sides"]] == [False, True]
    assert second["answer"]["text"].strip() == NO_THINK and second["answer"]["mode"] == "No think"
    assert [r["answer"]["text"].strip() for r in second["replaced"]] == [THINKING]
    assert second["replaced"][0]["reasoning"][0]["text"].strip()


async def test_the_last_comparison_can_still_be_chosen_after_reopening(tmp_path):
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-compare-keep.log") as app:
            async with ChatSession(app.url) as tab:
                props = await compare(tab, "Capital of France?")
                await saved(app, tab, answers=1)
            async with ChatSession(app.url, cookie=tab.cookie, thread_id=tab.thread_id) as again:
                assert [d for e, d in again.received if e == "action"] == []  # it has its own
                mark = again.mark()
                await act(app, again, "compare_keep", {"id": props["id"], "side": "no_think"})

                def kept() -> str | None:
                    # The action's reply can come before the element's update over the socket.
                    shown = [v for v in again.elements.values() if v[-1].get("name") == "Compare"]
                    return shown[-1][-1]["props"].get("kept") if shown else None

                await again.wait_for(lambda: kept() == "no_think", 10)
                assert again.since(mark).notes == []
                await again.ask("Next", think=False)
                assert history_sent(server) == [
                    ("user", "Capital of France?"),
                    ("assistant", NO_THINK),
                ]

                async def stored_kept():
                    steps = await saved_steps(app, again.cookie, again.thread_id)
                    records = [as_dict(s.get("metadata")).get(SAVED_KEY) or {} for s in steps]
                    return [r["kept"] for r in records if r.get("role") == "compare"] == [
                        "no_think"
                    ]

                await until(stored_kept)  # the choice is saved too


async def test_the_last_answer_can_be_given_again_after_a_restart(tmp_path):
    """Reopened after a restart, the last answer has its Again buttons as it had live; the
    model is asked the same question alone with the budget it was sent with, the old answer
    is marked replaced in its place (its run unchanged), and an older answer has none."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-again-1.log") as app:
            async with ChatSession(app.url) as tab:
                await tab.ask("Capital of Spain?", think=False)
                await tab.send(
                    "Capital of France?", think=True, extra={"modes": {"thinking_budget": "1k"}}
                )
                await tab.wait_idle()
                before = {s["id"]: s for s in await saved(app, tab, answers=2)}
        with chat(server, tmp_path, "saved-again-2.log") as app:
            async with ChatSession(app.url, cookie=tab.cookie, thread_id=tab.thread_id) as again:
                answers = [s for s in again.resumed["steps"] if s["type"] == "assistant_message"]
                offered = [d for e, d in again.received if e == "action"]
                assert {a["forId"] for a in offered} == {answers[-1]["id"]}
                assert sorted(a["label"] for a in offered) == ["Again (No think)", "Again (Think)"]
                await act(app, again, "regenerate", {"thinking": True})
                await again.wait_idle()
                assert history_sent(server) == [
                    ("user", "Capital of Spain?"),
                    ("assistant", NO_THINK),
                ]
                assert sent_messages(server)[-1] == ("user", "Capital of France?")
                assert server.record.bodies[-1]["thinking_token_budget"] == 1024
                steps = {s["id"]: s for s in await saved(app, again, answers=3)}
    old = answers[-1]["id"]
    assert as_dict(steps[old]["metadata"])[SAVED_KEY]["replaced"] is True
    assert steps[old]["parentId"] == before[old]["parentId"]
    assert steps[old]["output"].startswith(before[old]["output"])


async def test_a_stopped_last_answer_has_no_again_after_reopening(tmp_path):
    """As live: an answer cut short by Stop is not offered again, reopened or not."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-again-stopped.log") as app:
            async with ChatSession(app.url) as tab:
                await stop_mid_answer(server, tab)
                await saved(app, tab, answers=2)  # Chainlit's note, then the stopped answer
            async with ChatSession(app.url, cookie=tab.cookie, thread_id=tab.thread_id) as again:
                assert again.resumed is not None  # sent after the resume hook ran through
                assert [d for e, d in again.received if e == "action"] == []
                assert again.since(0).errors == []  # the resume ran through, it did not fail


async def test_an_answer_given_again_after_status_is_kept_with_its_question(tmp_path):
    """Status between an answer and its Again: reopened, the new answer is the question's
    (the model is sent it), not the Status check's."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-again-status.log") as app:
            async with ChatSession(app.url) as tab:
                await tab.ask("Capital of France?", think=True)
                await tab.send("", extra={"command": "Status"})
                await tab.wait_idle()
                await act(app, tab, "regenerate", {"thinking": False})  # Again (No think)
                await tab.wait_idle()
                await saved(app, tab, answers=3)  # the answer, Status's reply, the new answer
            async with ChatSession(app.url, cookie=tab.cookie, thread_id=tab.thread_id) as again:
                await again.ask("Next", think=False)
    assert history_sent(server) == [("user", "Capital of France?"), ("assistant", NO_THINK)]
