"""The README's run command, whole: ./start.sh launches vLLM (CPU build, demo model here)
and the chat, reports loading then ready, and Ctrl-C stops everything it started; it
refuses a port that something else holds, and ignores a status file left by an earlier
start when it uses a server that is already running."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time

import httpx

from backend.auth.client import login_cookie
from backend.engine.process import free_port
from backend.engine.status import EngineStatus
from tests.support.chat_socket import ChatSession
from tests.support.start_sh import StartSh


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _first_chat_is_saved(url: str) -> list[dict]:
    """Ask one question as a new user would; the conversations then listed for them."""
    cookie = await login_cookie(url)  # the local user: no login on a loopback HOST
    async with ChatSession(url, cookie=cookie) as tab:
        reply = await tab.ask("Hello!")
        assert reply.answer, tab.tail()
    body = {"pagination": {"first": 20, "cursor": None}, "filter": {}}
    async with httpx.AsyncClient(base_url=url, headers={"Cookie": cookie}) as http:
        for _ in range(50):  # saving is behind the answer by a fraction of a second
            listed = (await http.post("/project/threads", json=body, timeout=30)).json()["data"]
            if listed and listed[0]["id"] == tab.thread_id:
                return listed
            await asyncio.sleep(0.2)
    return listed


def test_start_sh_launches_vllm_and_the_chat_then_stops_both(tmp_path):
    vllm_port, chat_port = free_port(), free_port()
    data_dir = tmp_path / "data"  # not there yet, as on a fresh checkout
    env = {
        "MODEL": "demo",
        "VLLM_BASE_URL": f"http://127.0.0.1:{vllm_port}/v1",
        "PORT": str(chat_port),
        "RUN_DIR": str(tmp_path),
        "DATA_DIR": str(data_dir),
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    start = StartSh(env, "start-sh-full.log")  # start.sh generates the key
    states = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and start.process.poll() is None:
            info = start.status()
            if info and (not states or states[-1] != info["state"]):
                states.append(info["state"])
            if info and info["state"] == "ready":
                break
            time.sleep(0.5)
        assert states and states[-1] == "ready", (states, start.process.poll())
        assert "loading" in states or "starting" in states  # the chat was up before vLLM
        assert info["demo"] and "not Qwen3-4B" in info["banner"]
        engine = json.loads((tmp_path / "engine.json").read_text())
        assert engine["served_model_name"] == "qwen3-demo"
        # The generated key is in force: without it the server refuses.
        models = httpx.get(f"http://127.0.0.1:{vllm_port}/v1/models", timeout=5)
        assert models.status_code == 401
        # The first chat is saved with no set-up: the database is created at the first start.
        listed = asyncio.run(_first_chat_is_saved(start.chat_url))
        assert len(listed) == 1 and listed[0]["name"] == "Hello!"
        assert (data_dir / "chat.db").stat().st_size > 0
    finally:
        start.interrupt()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_port_open(vllm_port) or _port_open(chat_port)):
        time.sleep(0.5)
    assert not _port_open(vllm_port) and not _port_open(chat_port)
    assert json.loads((tmp_path / "engine.json").read_text())["state"] == "stopped"


def test_a_port_held_by_something_else_is_named_and_nothing_starts(tmp_path):
    chat_port = free_port()
    with socket.socket() as holder:  # listens, never answers HTTP
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {"MODEL": "demo", "VLLM_BASE_URL": f"http://127.0.0.1:{port}/v1"}
        start = StartSh(
            {**env, "PORT": str(chat_port), "RUN_DIR": str(tmp_path)}, "start-sh-taken.log"
        )
        code = start.process.wait(timeout=300)
    log = " ".join(start.log().split())
    assert code != 0
    assert f"port {port} is already taken by pid {os.getpid()}" in log
    assert "vLLM ready" not in log and "Starting vLLM" not in log
    assert "Starting the chat" not in log and not _port_open(chat_port)
    assert not (tmp_path / "engine.json").exists()


def test_a_running_server_is_described_not_a_stale_status_file(vllm_server, tmp_path):
    # An earlier start (launcher long gone) left its status behind in the run directory.
    stale = EngineStatus(
        "stopped",
        demo=True,
        plan={"max_concurrency": 114.0},
        base_url=vllm_server.base_url,
        launcher_pid=2**22 + 1,  # above pid_max's default: no such process
    )
    (tmp_path / "engine.json").write_text(json.dumps(stale.__dict__))
    env = {
        "VLLM_BASE_URL": vllm_server.base_url,
        "VLLM_API_KEY": vllm_server.config.vllm_api_key,
        "PORT": str(free_port()),
        "RUN_DIR": str(tmp_path),
    }
    start = StartSh(env, "start-sh-external.log")
    try:
        deadline = time.monotonic() + 180
        info = None
        while time.monotonic() < deadline and start.process.poll() is None and info is None:
            info = start.status()
            time.sleep(0.5)
        assert info is not None, start.log()
        assert info["state"] == "external" and info["plan"] == {}
        assert "up to 114" not in info["banner"]
        assert "Using the model server already running" in start.log()
    finally:
        start.interrupt()
