"""Two chat workers behind nginx (CHAT_WORKERS=2 ./start.sh), in chromium: nginx pins the
browser to a worker with its cookie, a chat answers, and after a reload the conversation
reappears in the sidebar, reopens and continues with its history. The model server is
the scripted fake, so the test sees exactly what the model was sent.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from backend.engine.process import free_port
from backend.proxy.nginx import COOKIE
from tests.support.chat_page import open_chat
from tests.support.fake_openai_server import fake_model_server
from tests.support.start_sh import StartSh
from tests.support.workers import WORKER_LINE, listening

ANSWER = " ".join(f"t{i}" for i in range(8, 16))  # the fake's answer after its reasoning


def _wait_up(start: StartSh, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while start.status() is None:
        assert start.process.poll() is None and time.monotonic() < deadline, start.log()
        time.sleep(0.5)


def test_a_chat_survives_a_reload_behind_nginx(browser, tmp_path):
    port = free_port()
    with fake_model_server() as server:
        env = {"CHAT_WORKERS": "2", "VLLM_BASE_URL": server.base_url, "PORT": str(port),
               "RUN_DIR": str(tmp_path / "run"), "DATA_DIR": str(tmp_path / "data"),
               "DATABASE_URL": "", "CHAT_PASSWORD": "", "USERS_FILE": "",
               "CHAINLIT_AUTH_SECRET": ""}  # fmt: skip
        start = StartSh(env, "browser-workers.log")
        try:
            _wait_up(start)
            with open_chat(browser, start.chat_url, "chat_workers_reload") as chat:
                cookies = {c["name"]: c["value"] for c in chat.page.context.cookies()}
                assert COOKIE in cookies  # nginx pinned this browser to a worker
                chat.send("What is 2+2?")
                chat.wait_idle()
                expect(chat.answers().last).to_contain_text(ANSWER)
                chat.page.reload()
                expect(chat.page.locator("#chat-input")).to_be_visible(timeout=30_000)
                saved = chat.page.locator('#thread-history a[href^="/thread/"]')
                expect(saved).to_have_count(1, timeout=30_000)
                saved.first.click()
                expect(chat.user_messages().first).to_contain_text("What is 2+2?", timeout=30_000)
                expect(chat.answers().first).to_contain_text(ANSWER)
                chat.send("And times 3?")
                chat.wait_idle()
                expect(chat.answers().last).to_contain_text(ANSWER)
                expect(chat.user_messages()).to_have_count(2)
        finally:
            start.interrupt(timeout_s=30)
        sent = [(m["role"], m["content"].strip()) for m in server.record.bodies[-1]["messages"]]
    assert sent == [("user", "What is 2+2?"), ("assistant", ANSWER), ("user", "And times 3?")]
    workers = [int(p) for p in WORKER_LINE.findall(start.log())]
    assert len(workers) == 2
    deadline = time.monotonic() + 30
    while any(listening(p) for p in [port, *workers]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(listening(p) for p in [port, *workers])
