"""The README's run command, whole: ./start.sh launches vLLM (CPU build, demo model here)
and the chat, reports loading then ready, and Ctrl-C stops everything it started."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import httpx

from backend.config import ROOT
from backend.engine.process import free_port
from tests.support.engine import ARTIFACTS


def _status(url: str) -> dict | None:
    try:
        response = httpx.get(f"{url}/hybrid-chat/status", timeout=3)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_start_sh_launches_vllm_and_the_chat_then_stops_both(tmp_path):
    vllm_port, chat_port = free_port(), free_port()
    env = {
        **os.environ,
        "MODEL": "demo",
        "VLLM_BASE_URL": f"http://127.0.0.1:{vllm_port}/v1",
        "PORT": str(chat_port),
        "RUN_DIR": str(tmp_path),
        "VLLM_CPU_KVCACHE_SPACE": "1",
    }
    env.pop("VLLM_API_KEY", None)  # start.sh generates one for the vLLM it launches
    log = (ARTIFACTS / "start-sh-full.log").open("w")
    process = subprocess.Popen(
        [str(ROOT / "start.sh")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{chat_port}"
    states = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            info = _status(url)
            if info and (not states or states[-1] != info["state"]):
                states.append(info["state"])
            if info and info["state"] == "ready":
                break
            time.sleep(0.5)
        assert states and states[-1] == "ready", (states, process.poll())
        assert "loading" in states or "starting" in states  # the chat was up before vLLM
        assert info["demo"] and "not Qwen3-4B" in info["banner"]
        engine = json.loads((tmp_path / "engine.json").read_text())
        assert engine["served_model_name"] == "qwen3-demo"
        # The generated key is in force: without it the server refuses.
        models = httpx.get(f"http://127.0.0.1:{vllm_port}/v1/models", timeout=5)
        assert models.status_code == 401
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        process.wait(timeout=60)
        log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_port_open(vllm_port) or _port_open(chat_port)):
        time.sleep(0.5)
    assert not _port_open(vllm_port) and not _port_open(chat_port)
    assert json.loads((tmp_path / "engine.json").read_text())["state"] == "stopped"
