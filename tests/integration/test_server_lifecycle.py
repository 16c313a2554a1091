"""The model server's life as the chat meets it: loading, killed mid-answer, back, shut down.

This module runs its own vLLM through the real launcher (``python -m backend.engine
serve``, as start.sh does) on its own port and run directory, so it can kill and restart
it without touching the session's server. The tests run in order and share that launcher.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from backend.config import ROOT, server_root
from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession
from tests.support.engine import ARTIFACTS, ENGINE_START_LIMIT_S

LOADING_NOTE = "The model is still loading; your message will be sent as soon as it is ready."


class Launcher:
    """``python -m backend.engine serve`` in its own process group."""

    def __init__(self, env: dict[str, str], run_dir: Path):
        self.env = {**os.environ, **env}
        self.run_dir = run_dir
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (ARTIFACTS / f"launcher-lifecycle-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "backend.engine", "serve"],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def status(self) -> dict:
        try:
            return json.loads((self.run_dir / "engine.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_state(self, *states: str, timeout_s: float = ENGINE_START_LIMIT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status()
            if status.get("state") in states:
                return status
            time.sleep(0.2)
        raise TimeoutError(f"launcher never reached {states}; last status {self.status()}")

    async def reach(self, *states: str, timeout_s: float = ENGINE_START_LIMIT_S) -> dict:
        """`wait_state` that keeps the event loop (and the tab's socket) running."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self.status()
            if status.get("state") in states:
                return status
            await asyncio.sleep(0.2)
        raise TimeoutError(f"launcher never reached {states}; last status {self.status()}")

    def kill_engine(self) -> None:
        """SIGKILL vLLM's whole process group: a crash, not a shutdown."""
        os.killpg(self.status()["pid"], signal.SIGKILL)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.terminate()


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run-lifecycle")
    port, key = free_port(), secrets.token_urlsafe(16)
    common = {
        "VLLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "VLLM_API_KEY": key,
        "RUN_DIR": str(run_dir),
    }
    engine_env = {"MODEL": "demo", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    launcher = Launcher({**common, **engine_env}, run_dir)
    front_env = {**common, "LOADING_WAIT_S": str(ENGINE_START_LIMIT_S), "STREAM_TIMEOUT_S": "30"}
    app = ChatApp(free_port(), front_env, ARTIFACTS / "chat-lifecycle.log").start()
    yield launcher, app
    app.stop()
    launcher.stop()


async def test_a_message_sent_while_the_model_loads_goes_through(stack):
    launcher, app = stack
    launcher.start()
    await launcher.reach("starting", "loading", timeout_s=60)
    async with ChatSession(app.url) as tab:
        reply = await tab.ask("What is 12 + 7?", think=True, timeout_s=ENGINE_START_LIMIT_S)
    assert LOADING_NOTE in reply.notes_shown()
    assert reply.notes == ["The model is ready."]
    assert reply.answer.strip() and not reply.errors
    await launcher.reach("ready", timeout_s=10)  # the launcher polls /health too


async def keep_busy(launcher: Launcher, requests: int = 48) -> list[asyncio.Task]:
    """Long background requests straight to vLLM, so the chat's answer streams slowly."""
    env = launcher.env
    headers = {"Authorization": f"Bearer {env['VLLM_API_KEY']}"}
    body = {
        "model": "qwen3-demo",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 2000,
        "ignore_eos": True,
    }
    client = httpx.AsyncClient(timeout=600, headers=headers)

    async def one() -> None:
        try:
            await client.post(f"{env['VLLM_BASE_URL']}/chat/completions", json=body)
        except httpx.HTTPError:
            pass  # the server is killed under it

    tasks = [asyncio.create_task(one()) for _ in range(requests)]
    root = server_root(env["VLLM_BASE_URL"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until vLLM is really busy with them
        metrics = (await client.get(f"{root}/metrics")).text
        running = [line for line in metrics.splitlines() if line.startswith("vllm:num_requests_r")]
        if running and float(running[0].rsplit(" ", 1)[1]) >= requests // 2:
            break
        await asyncio.sleep(0.2)
    return tasks


async def test_killed_mid_answer_then_back(stack):
    launcher, app = stack
    await launcher.reach("ready")
    async with ChatSession(app.url, settings={"temperature": 0}) as tab:
        busy = await keep_busy(launcher)
        mark = tab.mark()
        await tab.send("What is 345 + 678?", think=True)
        streamed = lambda: sum(len(i.content) for i in tab.since(mark).items)  # noqa: E731
        await tab.wait_for(lambda: streamed() > 20, 120)
        launcher.kill_engine()
        await tab.wait_idle(60)
        await asyncio.gather(*busy)
        cut = tab.since(mark)
        assert "broke off mid-answer, so the answer is incomplete" in cut.answer
        partial = "".join(cut.reasoning) + cut.answer.split("\n\n*")[0]
        assert len(partial) > 20, "what had arrived stays on screen"

        await launcher.reach("failed", "stopped", timeout_s=30)
        down = await tab.ask("What is 2 + 3?", timeout_s=60)
        assert "is not answering" in down.notes[-1]
        assert "your message was not sent" in down.notes[-1]

        launcher.start()
        await launcher.reach("ready")  # restarted between messages, stale connections and all
        back = await tab.ask("What is 12 + 7?", think=True, timeout_s=120)
    assert back.answer.strip() and "model server" not in back.answer
    assert not back.notes and not back.errors


def test_sigterm_stops_every_vllm_process_and_says_stopped(stack):
    launcher, _ = stack
    pgid = launcher.wait_state("ready")["pid"]
    assert group_members(pgid), "vLLM runs in its own process group"
    assert launcher.terminate() == 0
    assert group_members(pgid) == []
    assert launcher.status()["state"] == "stopped"
