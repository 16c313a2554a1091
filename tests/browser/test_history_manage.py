"""Saved conversations kept in order in chromium, as a presenter does it: a new chat is
listed (newest first), search finds it, rename and delete work from each conversation's
menu, and an earlier message edited re-runs from there; all of it still so after a reload
and in the database. That the list the page asks for as a chat begins already has the new
one, whatever the database's pace: test_saved_faults.py.
"""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Page, expect

from tests.support.chat_page import ChatPage, open_chat
from tests.support.fake_openai_server import fake_model_server
from tests.support.saved_chat import chat as chat_app


def new_chat(chat: ChatPage, question: str) -> None:
    """Start a new chat with the sidebar's button and ask ``question`` in it."""
    page = chat.page
    page.locator("#new-chat-button").click()  # one: the sidebar's (the header's hides)
    expect(page.get_by_role("dialog")).to_contain_text("this one stays in the sidebar")
    confirm(page)
    expect(chat.user_messages()).to_have_count(0)
    chat.mark()
    page.locator("#chat-input").fill(question)
    expect(page.locator("#chat-submit")).to_be_enabled()  # the new session is connected
    page.locator("#chat-input").press("Enter")
    chat.wait_idle()


def confirm(page: Page) -> None:
    """Press Confirm in the dialog that is open."""
    dialog = page.locator('[role="dialog"], [role="alertdialog"]')
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_have_count(0)


def open_menu(page: Page, name: str) -> None:
    """Open the menu of the conversation ``name`` in the sidebar."""
    item = page.locator("#thread-history li").filter(has_text=name)
    item.hover()
    item.locator("#thread-options").click()


def test_a_new_chat_is_listed_at_once_then_found_renamed_and_deleted(browser, tmp_path):
    with fake_model_server() as server:
        with chat_app(server, tmp_path, "browser-history-manage.log") as app:
            with open_chat(browser, app.url, "history_manage") as chat:
                page = chat.page
                listed = page.locator('#thread-history a[href^="/thread/"]')
                # The list is open from the start, in the product's words.
                expect(page.locator("#thread-history")).to_contain_text("No conversations found")
                chat.send("Capital of France?")
                chat.wait_idle()
                expect(listed).to_have_text(["Capital of France?"], timeout=30_000)
                new_chat(chat, "Capital of Italy?")
                expect(listed).to_have_text(["Capital of Italy?", "Capital of France?"])

                page.locator("#search-chats-button").click()
                page.get_by_placeholder("Search conversations...").fill("Italy")
                expect(page.locator("[cmdk-item]")).to_have_text(["Capital of Italy?"])
                page.keyboard.press("Escape")

                open_menu(page, "Capital of France?")
                page.locator("#rename-thread").click()
                expect(page.get_by_role("dialog")).to_contain_text("Rename conversation")
                page.get_by_role("dialog").locator("input").fill("Paris trip")
                confirm(page)
                expect(listed).to_have_text(["Capital of Italy?", "Paris trip"])

                open_menu(page, "Capital of Italy?")
                page.locator("#delete-thread").click()
                expect(page.get_by_role("alertdialog")).to_contain_text("deletes the conversation")
                confirm(page)
                expect(listed).to_have_text(["Paris trip"])

                page.reload()
                expect(listed).to_have_text(["Paris trip"])

    with sqlite3.connect(tmp_path / "chat.db") as db:
        rows = db.execute('SELECT "name" FROM threads').fetchall()
        questions = db.execute("SELECT \"output\" FROM steps WHERE type = 'user_message'")
        assert rows == [("Paris trip",)] and questions.fetchall() == [("Capital of France?",)]


def test_an_edited_message_reruns_from_there_and_the_later_exchange_is_gone(browser, tmp_path):
    answer = " ".join(f"t{i}" for i in range(8, 16))  # the scripted server's, thinking
    with fake_model_server() as server:
        with chat_app(server, tmp_path, "browser-edit.log") as app:
            with open_chat(browser, app.url, "edit_and_rerun") as chat:
                page = chat.page
                for question in ("one", "two"):
                    chat.send(question)
                    chat.wait_idle()
                first = chat.user_messages().first
                first.hover()
                first.locator(".edit-message").click()
                page.locator("#edit-chat-input").fill("one, edited")
                page.locator(".confirm-edit").click()
                expect(chat.user_messages()).to_have_count(1)
                expect(chat.user_messages().first).to_contain_text("one, edited")
                expect(chat.answers()).to_have_count(1, timeout=30_000)
                expect(chat.answers().first).to_contain_text(answer, timeout=30_000)
                expect(page.locator("#stop-button")).to_have_count(0, timeout=30_000)
                sent = [(m["role"], m["content"]) for m in server.record.bodies[-1]["messages"]]
                assert sent == [("user", "one, edited")]

                page.reload()
                expect(chat.answers()).to_have_count(1, timeout=30_000)
                expect(chat.user_messages()).to_have_count(1)
                expect(chat.user_messages().first).to_contain_text("one, edited")

    with sqlite3.connect(tmp_path / "chat.db") as db:
        kinds = db.execute('SELECT type, "output" FROM steps ORDER BY "createdAt"').fetchall()
    assert [o for t, o in kinds if t == "user_message"] == ["one, edited"]
    assert [o.split("\n")[0] for t, o in kinds if t == "assistant_message"] == [answer]
