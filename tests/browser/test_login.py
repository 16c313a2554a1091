"""Logins in a real browser: no login page for the loopback chat's local user, the
password form when accounts exist (wrong password refused, right one opens the chat), and
an account removed while its page is open: the next message says it was signed out, and a
reload shows the login form. The chat runs without a model server: nothing here asks the
model anything."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from backend.auth.users import add_user, remove_user
from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.engine import ARTIFACTS

NO_MODEL = "http://127.0.0.1:9/v1"
SAVED_THREADS = """() => fetch('/project/threads', {
  method: 'POST', headers: {'Content-Type': 'application/json'},
  body: JSON.stringify({pagination: {first: 5, cursor: null}, filter: {}}),
}).then(r => r.json()).then(page => page.data.length > 0)"""


def start(data_dir, log_name) -> ChatApp:
    env = {
        "VLLM_BASE_URL": NO_MODEL,
        "DATA_DIR": str(data_dir),
        "RUN_DIR": str(data_dir),
        "CHAT_PASSWORD": "",
        "USERS_FILE": "",
        "CHAINLIT_AUTH_SECRET": "",
    }
    return ChatApp(free_port(), env, ARTIFACTS / log_name).start()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_local_user_gets_the_chat_and_its_history_without_a_login_page(tmp_path, page):
    app = start(tmp_path, "chat-browser-local.log")
    try:
        page.goto(app.url)
        expect(page.locator("#chat-input")).to_be_visible(timeout=30_000)
        expect(page).to_have_url(f"{app.url}/")
        expect(page.locator("input[type=password]")).to_have_count(0)
        assert page.evaluate("fetch('/user').then(r => r.json())")["identifier"] == "local"
        # The sidebar's history needs a signed-in user: the local user has one.
        expect(page.locator("#command-Think")).to_be_visible(timeout=30_000)  # chat started
        page.locator("#chat-input").fill("Remember the tulips")
        page.locator("#chat-input").press("Enter")
        expect(page.get_by_text("Remember the tulips").first).to_be_visible(timeout=30_000)
        page.wait_for_function(SAVED_THREADS, timeout=30_000)  # writes are queued
        page.reload()  # the login cookie holds: straight back to the chat
        expect(page.locator("#chat-input")).to_be_visible(timeout=30_000)
        history = page.locator("#thread-history")
        if not history.is_visible():
            page.locator("#sidebar-trigger-button").click()
        expect(history).to_contain_text("Remember the tulips", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "local-user-history.png"))
    finally:
        app.stop()


def test_accounts_get_the_password_form(tmp_path, page):
    add_user(tmp_path / "users.json", "alice", "alice-password")
    app = start(tmp_path, "chat-browser-accounts.log")
    try:
        page.goto(app.url)
        expect(page).to_have_url(f"{app.url}/login", timeout=30_000)
        password = page.locator("input[type=password]")
        expect(password).to_be_visible()
        expect(page.get_by_text("User name")).to_be_visible()  # accounts are names, not e-mails
        page.locator("#email").fill("alice")
        password.fill("wrong-password")
        page.locator("button[type=submit]").click()
        expect(page.get_by_text("Unable to sign in")).to_be_visible(timeout=30_000)
        expect(page.locator("#chat-input")).to_have_count(0)
        password.fill("alice-password")
        page.locator("button[type=submit]").click()
        expect(page.locator("#chat-input")).to_be_visible(timeout=30_000)
        assert page.evaluate("fetch('/user').then(r => r.json())")["identifier"] == "alice"
    finally:
        app.stop()


def sign_in(page, app: ChatApp, name: str, password: str) -> None:
    page.goto(app.url)
    expect(page).to_have_url(f"{app.url}/login", timeout=30_000)
    page.locator("#email").fill(name)
    page.locator("input[type=password]").fill(password)
    page.locator("button[type=submit]").click()
    expect(page.locator("#command-Think")).to_be_visible(timeout=30_000)  # chat started


def test_a_removed_account_is_signed_out_of_its_open_page(tmp_path, page):
    add_user(tmp_path / "users.json", "alice", "alice-password")
    app = start(tmp_path, "chat-browser-removed.log")
    try:
        sign_in(page, app, "alice", "alice-password")
        remove_user(tmp_path / "users.json", "alice")
        page.locator("#chat-input").fill("Anyone there?")
        page.locator("#chat-input").press("Enter")
        expect(page.get_by_text("You have been signed out")).to_be_visible(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "removed-account-signed-out.png"))
        page.reload()
        expect(page).to_have_url(f"{app.url}/login", timeout=30_000)
        expect(page.locator("input[type=password]")).to_be_visible()
    finally:
        app.stop()
