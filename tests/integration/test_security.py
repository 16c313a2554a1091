"""Security: vLLM only on loopback with a key, nothing client-supplied reaches the chat
template, Chainlit hardened, and the optional password login working both ways."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
import socketio
import tomllib

from backend.config import ROOT, Config
from backend.engine.launcher import build_command, resolve_model, sizing
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession

GREEDY = {"temperature": 0}

# What the front end may send to /v1/chat/completions; nothing else, whatever the client does.
ALLOWED_REQUEST_KEYS = {
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "presence_penalty",
    "max_tokens",
    "top_k",
    "min_p",
    "chat_template_kwargs",
    "thinking_token_budget",
}
EVIL_ORIGIN = "http://evil.example"


def test_launcher_binds_loopback_and_requires_the_key():
    config = Config(model="demo", vllm_api_key="k3y", vllm_base_url="http://0.0.0.0:8123/v1")
    choice = resolve_model(config)
    cmd = build_command(config, choice, "cpu", sizing(config, choice, "cpu")[0])
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1", "never the host from VLLM_BASE_URL"
    assert cmd[cmd.index("--port") + 1] == "8123"
    assert "--api-key=k3y" in cmd


def test_real_server_refuses_requests_without_the_key(vllm_server):
    url = f"{vllm_server.base_url}/models"
    assert httpx.get(url, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-key"}
    assert httpx.get(url, headers=wrong, timeout=10).status_code == 401
    right = {"Authorization": f"Bearer {vllm_server.config.vllm_api_key}"}
    assert httpx.get(url, headers=right, timeout=10).status_code == 200


def test_uncovered_endpoints_are_why_the_port_must_stay_private(vllm_server):
    body = {"model": "qwen3-demo", "prompt": "hi"}
    tokenize = httpx.post(f"{vllm_server.config.server_root}/tokenize", json=body, timeout=10)
    assert tokenize.status_code == 200  # vLLM's key covers /v1 only
    readme = (ROOT / "README.md").read_text()
    assert "never expose its port" in readme


@pytest.fixture(scope="module")
def open_app(chat_app):
    with chat_app("security") as app:
        yield app


async def test_client_cannot_add_template_or_request_fields(open_app, proxy):
    proxy.reset()
    crafted = {
        "command": "Think; chat_template={{ 'pwned' }}",
        "chat_template": "{{ 'pwned' }}",
        "chat_template_kwargs": {"enable_thinking": True, "custom": "x"},
        "extra_body": {"chat_template": "{{ 'pwned' }}"},
        "metadata": {"location": open_app.url, "chat_template": "{{ 'pwned' }}"},
    }
    async with ChatSession(open_app.url) as tab:
        await tab.change_settings(
            {
                "chat_template": "{{ 'pwned' }}",
                "chat_template_kwargs": {"add_generation_prompt": False},
                "extra_body": {"logit_bias": {"1": 100}},
                "documents": [{"text": "x"}],
                "max_tokens": 24,
            },
            timeout_s=1,
        )
        await tab.send("What is 2 + 3? /no_think", extra=crafted)
        await tab.send("What is 4 + 4?", think=True, extra={"chat_template": "x"})
        await tab.wait_idle(120)
    assert len(proxy.record.bodies) == 2
    for body, thinking in zip(proxy.record.bodies, (False, True), strict=True):
        assert set(body) <= ALLOWED_REQUEST_KEYS, set(body) - ALLOWED_REQUEST_KEYS
        assert body["chat_template_kwargs"] == {"enable_thinking": thinking}
        assert body["max_tokens"] == 24
        assert all(set(m) == {"role", "content"} for m in body["messages"])


def test_chainlit_config_is_hardened():
    config = tomllib.loads((ROOT / ".chainlit" / "config.toml").read_text())
    origins = config["project"]["allow_origins"]
    assert origins and "*" not in origins
    assert all(re.fullmatch(r"http://(localhost|127\.0\.0\.1):\d+", o) for o in origins)
    assert config["features"]["unsafe_allow_html"] is False
    assert config["features"]["spontaneous_file_upload"]["enabled"] is False
    assert config["features"]["mcp"]["enabled"] is False


def test_cross_origin_requests_get_no_cors_allowance(open_app):
    url = f"{open_app.url}/auth/config"
    foreign = httpx.get(url, headers={"Origin": EVIL_ORIGIN}, timeout=10)
    assert "access-control-allow-origin" not in foreign.headers
    preflight = httpx.options(
        url,
        headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code >= 400
    assert "access-control-allow-origin" not in preflight.headers
    allowed = httpx.get(url, headers={"Origin": "http://localhost:8000"}, timeout=10)
    assert allowed.headers.get("access-control-allow-origin") == "http://localhost:8000"


def test_chainlit_pin_carries_the_security_fixes():
    text = (ROOT / "requirements.txt").read_text()
    version = re.search(r"^chainlit==(\d+)\.(\d+)\.(\d+)\s*$", text, re.MULTILINE)
    assert version, "chainlit is pinned exactly"
    assert tuple(int(part) for part in version.groups()) >= (2, 10, 1)


def login(app: ChatApp, username: str, password: str) -> httpx.Response:
    form = {"username": username, "password": password}
    return httpx.post(f"{app.url}/login", data=form, timeout=10)


async def test_without_accounts_the_loopback_chat_is_the_local_user(open_app):
    auth = httpx.get(f"{open_app.url}/auth/config", timeout=10).json()
    assert auth["headerAuth"] is True and auth["passwordAuth"] is False  # no login page
    signed_in = httpx.post(f"{open_app.url}/auth/header", timeout=10)
    assert signed_in.status_code == 200
    me = httpx.get(f"{open_app.url}/user", cookies=signed_in.cookies, timeout=10).json()
    assert me["identifier"] == "local"
    async with ChatSession(open_app.url) as tab:  # signs in as the front end does
        assert tab.socket is not None and tab.socket.connected


async def test_password_login_protects_the_chat(chat_app):
    env = {
        "CHAT_PASSWORD": "correct horse",
        "CHAT_USERNAME": "demo",
        "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(32),
    }
    with chat_app("password", env, via_proxy=False) as app:
        auth = httpx.get(f"{app.url}/auth/config", timeout=10).json()
        assert auth["requireLogin"] is True and auth["passwordAuth"] is True
        with pytest.raises(socketio.exceptions.ConnectionError):
            await ChatSession(app.url, settings=GREEDY).connect(timeout_s=10)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await ChatSession(app.url, cookie="access_token=forged.jwt.value").connect(10)
        assert login(app, "demo", "wrong").status_code == 401
        assert login(app, "someone", "correct horse").status_code == 401
        good = login(app, "demo", "correct horse")
        assert good.status_code == 200
        cookie = "; ".join(f"{k}={v}" for k, v in good.cookies.items())
        async with ChatSession(app.url, cookie=cookie, settings=GREEDY) as tab:
            reply = await tab.ask("What is 2 + 3?", think=True)
        assert reply.answer.strip() and not reply.notes and not reply.errors
