"""Each user sees only their own conversations: alice guesses (knows) the ids of bob's
conversation, message, rating and export, and tries every HTTP route and the socket.

The real chat (``chainlit run app.py``) on SQLite and on PostgreSQL, two accounts from a
users file, a scripted model server (the model's answers are not what is tested here).
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import pytest_asyncio
import socketio

from backend.auth.users import add_user
from support.chat_socket import ChatApp, ChatSession
from support.engine import ARTIFACTS, free_port
from support.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
SECRET = "Bob's locker code is 7351"
DENIED = (401, 403, 404)
SAVE_WAIT_S = 30.0


@dataclass
class Account:
    name: str
    cookie: str
    http: httpx.AsyncClient

    async def thread_ids(self) -> list[str]:
        body = {"pagination": {"first": 50, "cursor": None}, "filter": {}}
        reply = await self.http.post("/project/threads", json=body)
        assert reply.status_code == 200, reply.text
        return [t["id"] for t in reply.json()["data"]]

    async def wait_threads(self, predicate) -> list[str]:
        deadline = asyncio.get_running_loop().time() + SAVE_WAIT_S
        while not predicate(ids := await self.thread_ids()):
            assert asyncio.get_running_loop().time() < deadline, ids
            await asyncio.sleep(0.2)  # the store's writes are queued: poll with a deadline
        return ids


@dataclass
class BobsThings:
    thread_id: str
    message_id: str
    answer_id: str
    feedback_id: str
    export_url: str
    session_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def app(request, tmp_path_factory):
    data = tmp_path_factory.mktemp("isolation")
    database_url = ""
    if request.param == "postgresql":
        database_url = request.getfixturevalue("pg_server").new_database()
    for name in ("alice", "bob"):
        add_user(data / "users.json", name, f"{name}-password")
    async with FakeOpenAIServer() as model:
        env = {
            "VLLM_BASE_URL": model.base_url,
            "DATA_DIR": str(data),
            "RUN_DIR": str(data),
            "CHAT_PASSWORD": "",
            "USERS_FILE": "",
            "CHAINLIT_AUTH_SECRET": "",
            "DATABASE_URL": database_url,
        }
        log = ARTIFACTS / f"chat-isolation-{request.param}.log"
        with ChatApp(free_port(), env, log) as chat_app:
            yield chat_app


async def rename_table(app: ChatApp, old: str, new: str) -> None:
    statement = f"ALTER TABLE {old} RENAME TO {new}"
    if url := app.env["DATABASE_URL"]:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()
        return
    with closing(sqlite3.connect(app.env["DATA_DIR"] + "/chat.db", timeout=30)) as database:
        database.execute(statement)
        database.commit()


async def sign_in(app: ChatApp, name: str) -> Account:
    http = httpx.AsyncClient(base_url=app.url, timeout=30)
    form = {"username": name, "password": f"{name}-password"}
    reply = await http.post("/login", data=form)
    assert reply.status_code == 200, reply.text
    cookie = "; ".join(f"{k}={v}" for k, v in reply.cookies.items())
    return Account(name, cookie, http)  # the client keeps the login cookie


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def alice(app):
    account = await sign_in(app, "alice")
    yield account
    await account.http.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bob(app):
    account = await sign_in(app, "bob")
    yield account
    await account.http.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bobs(app, bob):
    """Bob's conversation, a rated answer and an export, with his tab left open."""
    tab = ChatSession(app.url, cookie=bob.cookie)
    await tab.connect()
    reply = await tab.ask(SECRET)
    assert reply.answers, reply.items
    answer_id = reply.answers[-1].id
    thread_id = (await bob.wait_threads(lambda ids: len(ids) == 1))[0]
    rating = {"feedback": {"forId": answer_id, "value": 1}, "sessionId": tab.session_id}
    rated = await bob.http.put("/feedback", json=rating)
    assert rated.status_code == 200, rated.text
    mark = len(tab.received)
    await tab.send("Export", extra={"command": "Export"})
    await tab.wait_idle()
    # The front end downloads an element from /project/file/{chainlitKey}?session_id=...
    keys = [d["chainlitKey"] for e, d in tab.received[mark:] if e == "element"]
    assert len(keys) == 2 and all(keys), tab.events[mark:]
    urls = [f"/project/file/{key}?session_id={tab.session_id}" for key in keys]
    yield BobsThings(
        thread_id, tab.sent[0], answer_id, rated.json()["feedbackId"], urls[0], tab.session_id
    )
    await tab.close()


async def test_bob_reaches_his_own_conversation(bob, bobs):
    thread = await bob.http.get(f"/project/thread/{bobs.thread_id}")
    assert thread.status_code == 200 and SECRET in thread.text
    export = await bob.http.get(bobs.export_url)
    assert export.status_code == 200 and SECRET in export.text


async def test_alice_cannot_list_bobs_conversation(alice, bob, bobs):
    assert bobs.thread_id not in await alice.thread_ids()
    bob_id = (await bob.http.get("/user")).json()["id"]
    forged = {"pagination": {"first": 50, "cursor": None}, "filter": {"userId": bob_id}}
    listed = await alice.http.post("/project/threads", json=forged)
    assert bobs.thread_id not in listed.text and SECRET not in listed.text


async def test_alice_cannot_open_bobs_conversation(alice, bobs):
    opened = await alice.http.get(f"/project/thread/{bobs.thread_id}")
    assert opened.status_code in DENIED and SECRET not in opened.text
    shared = await alice.http.get(f"/project/share/{bobs.thread_id}")
    assert shared.status_code in DENIED and SECRET not in shared.text


async def test_alice_cannot_export_bobs_conversation(alice, bobs):
    download = await alice.http.get(bobs.export_url)
    assert download.status_code in DENIED and SECRET not in download.text


async def test_alice_cannot_rename_share_or_delete_bobs_conversation(alice, bob, bobs):
    renamed = await alice.http.put(
        "/project/thread", json={"threadId": bobs.thread_id, "name": "pwned"}
    )
    shared = await alice.http.put(
        "/project/thread/share", json={"threadId": bobs.thread_id, "isShared": True}
    )
    deleted = await alice.http.request(
        "DELETE", "/project/thread", json={"threadId": bobs.thread_id}
    )
    assert {renamed.status_code, shared.status_code, deleted.status_code} <= set(DENIED)
    thread = (await bob.http.get(f"/project/thread/{bobs.thread_id}")).json()
    assert thread["name"] != "pwned" and SECRET in str(thread["steps"])
    assert not (await alice.http.get(f"/project/share/{bobs.thread_id}")).is_success


async def test_alice_cannot_rate_or_unrate_bobs_answers(alice, bob, bobs):
    foreign = {"feedback": {"forId": bobs.answer_id, "value": 0, "comment": "x"}, "sessionId": ""}
    assert (await alice.http.put("/feedback", json=foreign)).status_code in DENIED
    overwrite = {
        "feedback": {"forId": bobs.answer_id, "id": bobs.feedback_id, "value": 0},
        "sessionId": "",
    }
    assert (await alice.http.put("/feedback", json=overwrite)).status_code in DENIED
    removed = await alice.http.request("DELETE", "/feedback", json={"feedbackId": bobs.feedback_id})
    assert removed.status_code in DENIED
    steps = (await bob.http.get(f"/project/thread/{bobs.thread_id}")).json()["steps"]
    ratings = [s["feedback"] for s in steps if s.get("feedback")]
    assert [(r["id"], r["value"]) for r in ratings] == [(bobs.feedback_id, 1)]


async def test_alice_cannot_resume_bobs_conversation_over_the_socket(app, alice, bobs):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await ChatSession(app.url, cookie=alice.cookie, thread_id=bobs.thread_id).connect(10)


async def test_alice_cannot_take_over_bobs_session_by_its_id(app, alice, bobs):
    tab = ChatSession(app.url, cookie=alice.cookie, session_id=bobs.session_id)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await tab.connect(timeout_s=10)


async def test_a_refused_resume_never_writes_into_the_asked_id(app, alice, bob, bobs):
    """While the conversations cannot be read, the socket's ownership check sees no thread
    and lets alice in with bob's id; her messages must still land in a thread of her own."""
    before = await alice.thread_ids()
    await rename_table(app, "threads", "threads_away")  # every read of a thread fails
    try:
        tab = ChatSession(app.url, cookie=alice.cookie, thread_id=bobs.thread_id)
        await tab.connect(timeout_s=60)
    finally:
        await rename_table(app, "threads_away", "threads")
    try:
        assert "resume_thread" not in tab.events
        await tab.ask("Alice writes here")
    finally:
        await tab.close()
    ids = await alice.wait_threads(lambda ids: len(ids) > len(before))
    assert bobs.thread_id not in ids
    thread = (await bob.http.get(f"/project/thread/{bobs.thread_id}")).json()
    assert thread["userIdentifier"] == "bob"
    assert "Alice writes here" not in str(thread["steps"])


async def test_alice_cannot_overwrite_bobs_message_by_its_id(app, alice, bob, bobs):
    """Message ids come from the browser: one of bob's (say, from an export he sent her)
    must not let alice's message replace his or move it into her conversation."""
    before = await alice.thread_ids()
    tab = ChatSession(app.url, cookie=alice.cookie)
    await tab.connect()
    try:
        await tab.send("Overwritten by alice", extra={"id": bobs.message_id})
        await tab.wait_idle()
    finally:
        await tab.close()
    ids = await alice.wait_threads(lambda ids: len(ids) > len(before))
    thread = (await bob.http.get(f"/project/thread/{bobs.thread_id}")).json()
    outputs = [s["output"] for s in thread["steps"] if s["id"] == bobs.message_id]
    assert outputs == [SECRET], "bob's message was moved or overwritten"
    for thread_id in ids:
        steps = (await alice.http.get(f"/project/thread/{thread_id}")).json()["steps"]
        assert bobs.message_id not in [s["id"] for s in steps]
