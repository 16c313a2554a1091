"""The saved-conversation tests' shared parts: the real chat against the scripted model
server, the conversations listed and stored for a login, and what the model was sent."""

from __future__ import annotations

import asyncio

import httpx

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.engine import ARTIFACTS
from tests.support.fake_openai_server import FakeOpenAIServer, Script

FAST = Script(first_token_s=0.05, token_interval_s=0.01)


def chat(server: FakeOpenAIServer, data_dir, log_name: str, **extra) -> ChatApp:
    env = {"VLLM_BASE_URL": server.base_url, "DATA_DIR": str(data_dir), "RUN_DIR": str(data_dir)}
    env.update(CHAT_PASSWORD="", USERS_FILE="", CHAINLIT_AUTH_SECRET="", DATABASE_URL="")
    return ChatApp(free_port(), {**env, **extra}, ARTIFACTS / log_name)


async def threads(app: ChatApp, cookie: str) -> list[dict]:
    body = {"pagination": {"first": 20, "cursor": None}, "filter": {}}
    async with httpx.AsyncClient(base_url=app.url, headers={"Cookie": cookie}) as http:
        reply = await http.post("/project/threads", json=body, timeout=30)
    reply.raise_for_status()
    return reply.json()["data"]


async def saved_steps(app: ChatApp, cookie: str, thread_id: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=app.url, headers={"Cookie": cookie}) as http:
        reply = await http.get(f"/project/thread/{thread_id}", timeout=30)
    reply.raise_for_status()
    return reply.json()["steps"]


async def until(predicate, timeout_s: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (result := await predicate()):
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.2)
    return result


def outputs(steps: list[dict], kind: str) -> list[str]:
    return [s["output"] for s in steps if s["type"] == kind and s["name"] != "Chat"]


def sent_messages(server: FakeOpenAIServer) -> list[tuple[str, str]]:
    return [(m["role"], m["content"].strip()) for m in server.record.bodies[-1]["messages"]]


async def stop_mid_answer(server: FakeOpenAIServer, tab, question: str = "stop me") -> None:
    """Send ``question`` with the server slowed down, press Stop once its answer has begun,
    and wait until the answer has ended (the server stays slow: the caller speeds it up)."""
    server.script.token_interval_s = 0.5
    mark = tab.mark()
    await tab.send(question)
    await tab.wait_for(lambda: "t1" in tab.since(mark).text(), 30)
    await tab.stop()
    await tab.wait_idle()
