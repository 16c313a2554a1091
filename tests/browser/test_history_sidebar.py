"""Saved conversations in chromium: chat, reload, restart the chat server, reopen the
conversation from the sidebar and continue it. The model server is the scripted fake
(its thinking answers stream reasoning t0…t7, then the answer t8…t15), so the test sees
exactly what the model was sent: the earlier answer, never its reasoning.
"""

from __future__ import annotations

from playwright.sync_api import expect

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_page import open_chat
from tests.support.engine import ARTIFACTS
from tests.support.fake_openai_server import fake_model_server

ANSWER = " ".join(f"t{i}" for i in range(8, 16))


def test_reopen_from_the_sidebar_after_a_restart_and_continue(browser, tmp_path):
    port = free_port()
    with fake_model_server() as server:
        env = {"VLLM_BASE_URL": server.base_url, "DATA_DIR": str(tmp_path),
               "RUN_DIR": str(tmp_path), "DATABASE_URL": "", "CHAT_PASSWORD": "",
               "USERS_FILE": "", "CHAINLIT_AUTH_SECRET": ""}  # fmt: skip
        app = ChatApp(port, env, ARTIFACTS / "browser-saved-1.log").start()
        try:
            with open_chat(browser, app.url, "saved_conversation_reopened") as chat:
                chat.send("What is 2+2?")
                chat.wait_idle()
                expect(chat.answers().last).to_contain_text(ANSWER)
                chat.page.reload()
                expect(chat.page.locator("#chat-input")).to_be_visible(timeout=30_000)
                app.stop()
                app = ChatApp(port, env, ARTIFACTS / "browser-saved-2.log").start()
                chat.page.goto(app.url)
                saved = chat.page.locator('#thread-history a[href^="/thread/"]')
                expect(saved).to_have_count(1, timeout=30_000)
                saved.first.click()
                expect(chat.user_messages().first).to_contain_text("What is 2+2?", timeout=30_000)
                expect(chat.answers().first).to_contain_text(ANSWER)
                expect(chat.reasoning_steps()).to_have_count(1)  # shown folded, as it was
                expect(chat.step_title(0)).to_contain_text("Thought for")
                # The mode it was sent in and the stats line, as they were shown.
                expect(chat.user_messages().first.locator(".command-span")).to_have_text("Think")
                expect(chat.answers().first).to_contain_text("first token")
                # Loaded straight from its address, it is as a live chat left it: the
                # thinking-budget picker in the composer, Again under the last answer.
                chat.page.reload()
                expect(chat.user_messages().first).to_contain_text("What is 2+2?", timeout=30_000)
                expect(chat.page.locator("button", has_text="Budget: settings")).to_be_visible()
                expect(chat.page.get_by_role("button", name="Again (No think)")).to_be_visible()
                chat.send("And times 3?")
                chat.wait_idle()
                expect(chat.answers().last).to_contain_text(ANSWER)
                expect(chat.user_messages()).to_have_count(2)
        finally:
            app.stop()
        sent = [(m["role"], m["content"].strip()) for m in server.record.bodies[-1]["messages"]]
    assert sent == [("user", "What is 2+2?"), ("assistant", ANSWER), ("user", "And times 3?")]
