"""The load tester's app target against a chat that asks for a login (CHAT_PASSWORD set).

The real chat (``chainlit run app.py``) with a scripted model server (what is tested is the
sign-in, not the model): ``python -m backend.loadtest --target app --user NAME`` signs in
through ``/login`` with the password from LOADTEST_PASSWORD (or ``--password``), and every
answer streams through sockets carrying that login. A wrong password, or no account at all,
stops the run before anything is timed, with one line saying what to do. Without accounts
(a loopback chat's local user) no option is needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio

from backend.config import ROOT
from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.engine import ARTIFACTS
from tests.support.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.asyncio(loop_scope="module")
USER, PASSWORD = "tester", "load-test-pass"
OUTPUT_LEN = 8
RUN_LIMIT_S = 180


@asynccontextmanager
async def running_chat(data, log_name: str, **env: str):
    """The real chat on a scripted model server; yields both."""
    async with FakeOpenAIServer() as model:
        full = {
            "VLLM_BASE_URL": model.base_url,
            "DATA_DIR": str(data),
            "RUN_DIR": str(data),
            "CHAT_PASSWORD": "",
            "USERS_FILE": "",
            "CHAINLIT_AUTH_SECRET": "",
            **env,
        }
        with ChatApp(free_port(), full, ARTIFACTS / log_name) as app:
            yield app, model


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chat(tmp_path_factory):
    data = tmp_path_factory.mktemp("loadtest-login")
    env = {"CHAT_USERNAME": USER, "CHAT_PASSWORD": PASSWORD}
    async with running_chat(data, "chat-loadtest-login.log", **env) as both:
        yield both


async def loadtest(chat, out, *args: str, password_env: str = "") -> tuple[int, str]:
    """Run one app level (2 requests); exit status and standard error."""
    app, model = chat
    cmd = [
        sys.executable, "-m", "backend.loadtest", "--target", "app", "--app-url", app.url,
        "--base-url", model.base_url, "--concurrency", "1", "--num-requests", "2",
        "--input-len", "16", "--output-len", str(OUTPUT_LEN), "--json", str(out), *args,
    ]  # fmt: skip
    env = {**os.environ, "LOADTEST_PASSWORD": password_env}
    proc = await asyncio.create_subprocess_exec(
        "nice", *cmd, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(proc.communicate(), RUN_LIMIT_S)
    return proc.returncode or 0, stderr.decode()


async def test_signs_in_with_the_password_from_the_environment(chat, tmp_path):
    out = tmp_path / "app.json"
    code, stderr = await loadtest(chat, out, "--user", USER, password_env=PASSWORD)
    assert code == 0, stderr
    (row,) = json.loads(out.read_text())
    assert row["target"] == "app"
    assert (row["success"], row["failed"]) == (2, 0), row["errors"]
    assert row["total_output_tokens"] == 2 * OUTPUT_LEN  # the chat's own usage line
    assert row["output_tokens_from"] == {"usage": 2}


async def test_the_password_option_wins_over_the_environment(chat, tmp_path):
    out = tmp_path / "app.json"
    args = ("--user", USER, "--password", PASSWORD)
    code, stderr = await loadtest(chat, out, *args, password_env="not-the-password")
    assert code == 0, stderr
    assert json.loads(out.read_text())[0]["success"] == 2


@pytest.mark.parametrize(
    ("args", "password_env", "says"),
    [
        (("--user", USER), "wrong-password", f"refused the login of '{USER}'"),
        (("--user", USER), "", "no password was given"),
        ((), "", "asks for a login: pass --user NAME and --password"),
    ],
)
async def test_a_refused_sign_in_stops_the_run_with_a_clear_message(
    chat, tmp_path, args, password_env, says
):
    out = tmp_path / "app.json"
    code, stderr = await loadtest(chat, out, *args, password_env=password_env)
    assert code == 2
    assert says in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists()  # nothing was run


async def test_a_chat_without_accounts_needs_no_option(tmp_path):
    async with running_chat(tmp_path, "chat-loadtest-local.log") as local:
        out = tmp_path / "app.json"
        code, stderr = await loadtest(local, out)
    assert code == 0, stderr
    assert json.loads(out.read_text())[0]["success"] == 2
