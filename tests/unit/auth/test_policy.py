"""Login mode, start refusal, the kept secret and the login check, on real files."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from types import SimpleNamespace

import pytest

from backend.auth import hooks, passwords
from backend.auth.policy import AuthSetupError, is_loopback, plan_auth
from backend.auth.secret import kept_secret, signing_secret
from backend.auth.users import add_user
from backend.config import ROOT, Config


def config(tmp_path, **values) -> Config:
    return Config(data_dir=str(tmp_path / "data"), **values)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org", ""])
def test_network_hosts(host):
    assert not is_loopback(host)


def test_loopback_without_accounts_is_the_local_user(tmp_path):
    assert plan_auth(config(tmp_path)).mode == "local"


@pytest.mark.parametrize("host,bind", [("0.0.0.0", None), ("127.0.0.1", "0.0.0.0")])
def test_network_without_accounts_is_refused(tmp_path, host, bind):
    with pytest.raises(AuthSetupError, match="no account is configured") as err:
        plan_auth(config(tmp_path, host=host), bind_host=bind)
    assert "0.0.0.0" in str(err.value) and "python -m backend.users add" in str(err.value)


def test_users_file_or_chat_password_turns_accounts_on(tmp_path):
    assert plan_auth(config(tmp_path, host="0.0.0.0", chat_password="pw")).mode == "accounts"
    cfg = config(tmp_path, host="0.0.0.0")
    add_user(cfg.users_path, "alice", "password-a")
    assert plan_auth(cfg).mode == "accounts"
    assert plan_auth(config(tmp_path)).mode == "accounts"  # on loopback too


def test_unreadable_users_file_stops_the_start(tmp_path):
    cfg = config(tmp_path)
    cfg.users_path.parent.mkdir(parents=True)
    cfg.users_path.write_text("{oops")
    with pytest.raises(ValueError, match="Cannot read the users file"):
        plan_auth(cfg)


def test_secret_is_made_once_private_and_kept(tmp_path):
    first = kept_secret(tmp_path / "data")
    assert len(first) >= 40
    assert stat.S_IMODE((tmp_path / "data" / "auth_secret").stat().st_mode) == 0o600
    assert kept_secret(tmp_path / "data") == first


def test_local_cookies_use_their_own_key():
    assert signing_secret("base", local_mode=False) == "base"
    assert signing_secret("base", local_mode=True) not in ("base", signing_secret("b", True))


def test_prepare_hands_chainlit_the_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    cfg = config(tmp_path, chat_password="pw")
    assert hooks.prepare(cfg).mode == "accounts"
    assert os.environ["CHAINLIT_AUTH_SECRET"] == kept_secret(tmp_path / "data")
    given = config(tmp_path, auth_secret="from-env")
    assert hooks.prepare(given).mode == "local"
    assert os.environ["CHAINLIT_AUTH_SECRET"] == signing_secret("from-env", local_mode=True)


def test_check_login_against_file_and_shortcut(tmp_path):
    cfg = config(tmp_path, chat_password="shortcut-pw", chat_username="demo")
    add_user(cfg.users_path, "alice", "password-a")
    assert hooks.check_login(cfg, "alice", "password-a")
    assert not hooks.check_login(cfg, "alice", "shortcut-pw")
    assert not hooks.check_login(cfg, "mallory", "password-a")
    assert hooks.check_login(cfg, "demo", "shortcut-pw")
    assert not hooks.check_login(cfg, "demo", "password-a")
    assert not hooks.check_login(cfg, "Demo", "shortcut-pw")


class SpyHasher:
    """argon2's own hasher, recording each hash it verifies."""

    def __init__(self):
        self.real, self.verified = passwords._HASHER, []

    def hash(self, password):
        return self.real.hash(password)

    def verify(self, stored, password):
        self.verified.append(stored)
        return self.real.verify(stored, password)


def test_unknown_user_costs_a_verification_of_equal_parameters(tmp_path, monkeypatch):
    cfg = config(tmp_path)
    add_user(cfg.users_path, "alice", "password-a")
    spy = SpyHasher()
    monkeypatch.setattr(passwords, "_HASHER", spy)
    assert not hooks.check_login(cfg, "nobody", "password-a")
    assert not hooks.check_login(cfg, "alice", "wrong-password")
    dummy, real = spy.verified
    # "$argon2id$v=19$m=65536,t=3,p=4$salt$hash": same variant, version and cost.
    assert dummy != real and dummy.split("$")[1:4] == real.split("$")[1:4]


def test_corrupt_users_file_logs_nobody_in(tmp_path):
    cfg = config(tmp_path)
    cfg.users_path.parent.mkdir(parents=True)
    cfg.users_path.write_text("{oops")
    assert not hooks.check_login(cfg, "alice", "password-a")


@pytest.mark.parametrize("host,code", [("0.0.0.0", 2), ("127.0.0.1", 0)])
def test_start_sh_config_step_refuses_a_network_host_without_accounts(tmp_path, host, code):
    env = {**os.environ, "HOST": host, "DATA_DIR": str(tmp_path / "data")}
    for name in ("CHAT_PASSWORD", "USERS_FILE"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "backend.preflight"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    if code:
        assert "Refusing to start" in done.stderr and not done.stdout
    else:
        assert f"HOST={host}" in done.stdout


@pytest.mark.parametrize(
    "asked,first,keeps",
    [("someone-elses", False, False), ("someone-elses", True, True), (None, False, True)],
)
def test_only_a_refused_resume_gets_a_new_thread_id(asked, first, keeps):
    session = SimpleNamespace(thread_id="t-1", thread_id_to_resume=asked)
    session.has_first_interaction = first
    hooks.forget_refused_resume(session)
    assert (session.thread_id == "t-1") is keeps
    if not keeps:
        assert session.thread_id not in ("", asked) and session.thread_id_to_resume is None
