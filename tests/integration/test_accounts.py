"""Accounts against the real chat (``chainlit run app.py``): the local user on loopback,
password login from the users file, logins that survive restarts, and the refusal to
open a chat to the network with no account. No model server is needed: nothing here
asks the model anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import bcrypt
import httpx
import pytest
import socketio

from backend.auth.users import add_user, remove_user
from backend.config import ROOT
from backend.engine.process import free_port
from tests.support.chat_app import CHAINLIT, ChatApp
from tests.support.chat_socket import ChatSession
from tests.support.engine import ARTIFACTS

NO_MODEL = "http://127.0.0.1:9/v1"  # nothing listens there; the chat starts regardless


def chat_env(data_dir, **extra) -> dict[str, str]:
    env = {"VLLM_BASE_URL": NO_MODEL, "DATA_DIR": str(data_dir), "RUN_DIR": str(data_dir)}
    return {**env, "CHAT_PASSWORD": "", "USERS_FILE": "", "CHAINLIT_AUTH_SECRET": "", **extra}


def chat(data_dir, log_name, **extra) -> ChatApp:
    return ChatApp(free_port(), chat_env(data_dir, **extra), ARTIFACTS / log_name)


def login(app: ChatApp, username: str, password: str) -> httpx.Response:
    form = {"username": username, "password": password}
    return httpx.post(f"{app.url}/login", data=form, timeout=30)


def whoami(app: ChatApp, cookies) -> httpx.Response:
    return httpx.get(f"{app.url}/user", cookies=cookies, timeout=10)


def test_loopback_local_user_survives_a_restart(tmp_path):
    with chat(tmp_path, "chat-local-1.log") as app:
        auth = httpx.get(f"{app.url}/auth/config", timeout=10).json()
        assert auth["requireLogin"] and auth["headerAuth"] and not auth["passwordAuth"]
        signed_in = httpx.post(f"{app.url}/auth/header", timeout=10)
        assert signed_in.status_code == 200
        assert whoami(app, signed_in.cookies).json()["identifier"] == "local"
        assert whoami(app, None).status_code == 401
        # The page itself comes signed in, so the front end never shows /login.
        page = httpx.get(app.url, timeout=10)
        assert "access_token" in page.cookies
        assert whoami(app, page.cookies).json()["identifier"] == "local"
        again = httpx.get(app.url, cookies=page.cookies, timeout=10)
        assert "access_token" not in again.cookies  # a valid cookie is left alone
    assert (tmp_path / "auth_secret").stat().st_mode & 0o777 == 0o600
    with chat(tmp_path, "chat-local-2.log") as app:  # same data folder: same key
        assert whoami(app, signed_in.cookies).json()["identifier"] == "local"


async def test_password_login_from_the_users_file(tmp_path):
    add_user(tmp_path / "users.json", "alice", "alice-password")
    with chat(tmp_path, "chat-accounts.log") as app:
        auth = httpx.get(f"{app.url}/auth/config", timeout=10).json()
        assert auth["passwordAuth"] and not auth["headerAuth"]
        assert httpx.post(f"{app.url}/auth/header", timeout=10).status_code == 400
        assert "access_token" not in httpx.get(app.url, timeout=10).cookies
        assert login(app, "alice", "wrong-password").status_code == 401
        assert login(app, "mallory", "alice-password").status_code == 401
        assert login(app, "local", "alice-password").status_code == 401
        good = login(app, "alice", "alice-password")
        assert good.status_code == 200
        assert whoami(app, good.cookies).json()["identifier"] == "alice"
        with pytest.raises(socketio.exceptions.ConnectionError):
            await ChatSession(app.url).connect(timeout_s=10)
        cookie = "; ".join(f"{k}={v}" for k, v in good.cookies.items())
        async with ChatSession(app.url, cookie=cookie) as tab:
            assert tab.socket is not None and tab.socket.connected and tab.chat_started
        # Accounts added while the chat runs can log in at once.
        add_user(tmp_path / "users.json", "bob", "bob-password")
        assert login(app, "bob", "bob-password").status_code == 200
        # One brought from elsewhere keeps its bcrypt hash (as htpasswd -B writes it).
        users = json.loads((tmp_path / "users.json").read_text())
        carol = bcrypt.hashpw(b"carol-password", bcrypt.gensalt(rounds=4)).decode()
        users["users"]["carol"] = {"hash": carol.replace("$2b$", "$2y$", 1)}
        (tmp_path / "users.json").write_text(json.dumps(users))
        assert login(app, "carol", "carol-pass").status_code == 401
        assert login(app, "carol", "carol-password").status_code == 200


def test_chat_password_shortcut_and_file_together(tmp_path):
    add_user(tmp_path / "users.json", "alice", "alice-password")
    with chat(tmp_path, "chat-shortcut.log", CHAT_PASSWORD="demo-pass") as app:
        assert login(app, "demo", "demo-pass").status_code == 200
        assert login(app, "demo", "alice-password").status_code == 401
        assert login(app, "alice", "alice-password").status_code == 200


def test_local_logins_are_void_once_accounts_exist(tmp_path):
    with chat(tmp_path, "chat-switch-1.log") as app:
        local = httpx.post(f"{app.url}/auth/header", timeout=10).cookies
    add_user(tmp_path / "users.json", "alice", "alice-password")
    with chat(tmp_path, "chat-switch-2.log") as app:
        assert whoami(app, local).status_code == 401
        alice = login(app, "alice", "alice-password").cookies
    remove_user(tmp_path / "users.json", "alice")
    add_user(tmp_path / "users.json", "bob", "bob-password")
    removed = subprocess.run(
        [sys.executable, "-m", "backend.users", "remove", "bob"],
        env={**os.environ, **chat_env(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert removed.returncode == 0, removed.stderr
    add_user(tmp_path / "users.json", "carol", "carol-password")
    with chat(tmp_path, "chat-switch-3.log") as app:  # alice was removed: her login is void
        assert whoami(app, alice).status_code == 401


def test_chainlit_on_a_network_address_without_accounts_refuses(tmp_path):
    done = subprocess.run(
        [str(CHAINLIT), "run", "app.py", "--headless", "--host", "0.0.0.0"]
        + ["--port", str(free_port())],
        env={**os.environ, **chat_env(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "Refusing to start" in done.stderr and "0.0.0.0" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "chat.db").exists()  # refused before anything was created


def test_start_sh_on_a_network_address_without_accounts_refuses(tmp_path):
    port = free_port()
    env = {**os.environ, **chat_env(tmp_path), "HOST": "0.0.0.0", "PORT": str(port)}
    done = subprocess.run(
        [str(ROOT / "start.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Refusing to start" in done.stderr
    assert "Starting" not in done.stdout + done.stderr  # neither vLLM nor the chat began
    assert not (tmp_path / "engine.json").exists()
