"""A removed account, or one whose password changed, loses access at its next request.

The real chat (``chainlit run app.py``) on SQLite with accounts from a users file and a
scripted model server; the accounts are changed with the real ``python -m backend.users``
while the chat runs. After the change, the old login is refused by every HTTP route (the
history list, a conversation's get and delete, the export download, feedback) and by the
socket (a new tab, a resumed conversation, and the next message of a tab left open), each
time saying why; other users stay signed in and nothing of the conversation is lost.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
import socketio

from backend.auth.stamps import SIGNED_OUT
from backend.auth.users import add_user
from backend.config import ROOT
from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession
from tests.support.engine import ARTIFACTS
from tests.support.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
SAVE_WAIT_S = 30.0
THREADS = {"pagination": {"first": 50, "cursor": None}, "filter": {}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("revocation")
    for name in ("alice", "bob", "carol"):
        add_user(data / "users.json", name, f"{name}-password")
    async with FakeOpenAIServer() as model:
        env = {
            "VLLM_BASE_URL": model.base_url,
            "DATA_DIR": str(data),
            "RUN_DIR": str(data),
            "CHAT_PASSWORD": "",
            "USERS_FILE": "",
            "CHAINLIT_AUTH_SECRET": "",
            "DATABASE_URL": "",
        }
        with ChatApp(free_port(), env, ARTIFACTS / "chat-revocation.log") as chat_app:
            yield chat_app


def users_command(app: ChatApp, *args: str, password: str = "") -> str:
    """``python -m backend.users ARGS`` on the chat's data folder; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "backend.users", *args],
        input=password,
        env={**os.environ, **app.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Login:
    cookie: str
    http: httpx.AsyncClient


async def sign_in(app: ChatApp, name: str, password: str = "") -> Login:
    http = httpx.AsyncClient(base_url=app.url, timeout=30)
    form = {"username": name, "password": password or f"{name}-password"}
    reply = await http.post("/login", data=form)
    assert reply.status_code == 200, reply.text
    return Login("; ".join(f"{k}={v}" for k, v in reply.cookies.items()), http)


async def wait_threads(login: Login) -> list[str]:
    deadline = asyncio.get_running_loop().time() + SAVE_WAIT_S
    while True:
        reply = await login.http.post("/project/threads", json=THREADS)
        assert reply.status_code == 200, reply.text
        if ids := [t["id"] for t in reply.json()["data"]]:
            return ids
        assert asyncio.get_running_loop().time() < deadline, "the conversation was not saved"
        await asyncio.sleep(0.2)  # the store's writes are queued: poll with a deadline


async def refusal(app: ChatApp, cookie: str, thread_id: str = "") -> str:
    """What the socket says to a new tab (``thread_id``: resuming that conversation)."""
    tab = ChatSession(app.url, cookie=cookie, thread_id=thread_id)
    with pytest.raises(socketio.exceptions.ConnectionError) as refused:
        await tab.connect(timeout_s=10)
    assert tab.socket is not None and tab.socket.refusal in str(refused.value)
    return tab.socket.refusal


def assert_signed_out(reply: httpx.Response) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.json()["detail"] == SIGNED_OUT


async def test_a_removed_account_is_refused_everywhere_at_once(app):
    alice, bob = await sign_in(app, "alice"), await sign_in(app, "bob")
    tab = ChatSession(app.url, cookie=alice.cookie)
    await tab.connect()
    reply = await tab.ask("Remember the number 4412")
    assert reply.answers, reply.items
    answer_id = reply.answers[-1].id
    (thread_id,) = await wait_threads(alice)
    mark = len(tab.received)
    await tab.send("Export", extra={"command": "Export"})
    await tab.wait_idle()
    keys = [d["chainlitKey"] for e, d in tab.received[mark:] if e == "element"]
    assert keys, tab.events[mark:]
    export_url = f"/project/file/{keys[0]}?session_id={tab.session_id}"
    assert (await alice.http.get(export_url)).status_code == 200

    assert "end at their next request" in users_command(app, "remove", "alice")

    assert_signed_out(await alice.http.get("/user"))
    assert_signed_out(await alice.http.post("/project/threads", json=THREADS))
    assert_signed_out(await alice.http.get(f"/project/thread/{thread_id}"))
    assert_signed_out(
        await alice.http.request("DELETE", "/project/thread", json={"threadId": thread_id})
    )
    assert_signed_out(await alice.http.get(export_url))
    rating = {"feedback": {"forId": answer_id, "value": 1}, "sessionId": tab.session_id}
    assert_signed_out(await alice.http.put("/feedback", json=rating))
    assert (await bob.http.get("/user")).json()["identifier"] == "bob"  # others stay in

    # The tab left open: its next message is answered with the reason, then it is closed.
    mark = tab.mark()
    await tab.send("Are you still there?", confirm=False)
    await tab.wait_for(lambda: tab.socket is not None and not tab.socket.connected, 30)
    shown = tab.since(mark)
    assert shown.errors == [SIGNED_OUT] and not shown.answers, shown.items
    await tab.close()
    assert await refusal(app, alice.cookie) == SIGNED_OUT
    assert await refusal(app, alice.cookie, thread_id=thread_id) == SIGNED_OUT

    # Nothing was lost: the account, added again, finds its conversation as it was.
    users_command(app, "add", "alice", "--password-stdin", password="alice-again\n")
    again = await sign_in(app, "alice", "alice-again")
    assert await wait_threads(again) == [thread_id]
    thread = (await again.http.get(f"/project/thread/{thread_id}")).json()
    assert "4412" in str(thread["steps"])
    for login in (alice, bob, again):
        await login.http.aclose()


async def test_a_changed_password_ends_the_old_login(app):
    old = await sign_in(app, "carol")
    async with ChatSession(app.url, cookie=old.cookie) as tab:
        assert tab.chat_started
    users_command(app, "password", "carol", "--password-stdin", password="carol-new-pass\n")
    assert_signed_out(await old.http.get("/user"))
    assert await refusal(app, old.cookie) == SIGNED_OUT
    old_password = {"username": "carol", "password": "carol-password"}
    assert (await old.http.post("/login", data=old_password)).status_code == 401
    new = await sign_in(app, "carol", "carol-new-pass")
    assert (await new.http.get("/user")).json()["identifier"] == "carol"
    async with ChatSession(app.url, cookie=new.cookie) as tab:
        assert tab.socket is not None and tab.socket.connected
    for login in (old, new):
        await login.http.aclose()
