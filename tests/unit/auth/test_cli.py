"""``python -m backend.users``: in-process for each case, and once as a real command."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from backend.auth import cli
from backend.auth.passwords import verify_password
from backend.auth.secret import kept_secret
from backend.auth.users import load_hashes
from backend.config import ROOT, Config


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def cfg(tmp_path):
    return Config(data_dir=str(tmp_path / "data"))


def run(cfg, *argv, stdin=""):
    return cli.main(list(argv), config=cfg, stdin=io.StringIO(stdin))


def test_add_from_stdin_then_list_and_remove(cfg, capsys):
    assert run(cfg, "add", "alice", "--password-stdin", stdin="correct horse\n") == 0
    out = capsys.readouterr().out
    assert "Added alice" in out and "restart the chat" in out
    assert verify_password(load_hashes(cfg.users_path)["alice"], "correct horse")
    assert run(cfg, "add", "bob", "--password-stdin", stdin="battery staple") == 0
    assert "restart" not in capsys.readouterr().out  # only the first account changes mode
    assert run(cfg, "list") == 0
    assert capsys.readouterr().out.split() == ["alice", "bob"]
    assert run(cfg, "remove", "bob") == 0
    assert "Removed bob" in capsys.readouterr().out
    assert list(load_hashes(cfg.users_path)) == ["alice"]


def test_remove_says_open_logins_end_now_and_keeps_the_key(cfg, capsys):
    run(cfg, "add", "alice", "--password-stdin", stdin="correct horse")
    before = kept_secret(cfg.users_path.parent)
    assert run(cfg, "remove", "alice") == 0
    assert kept_secret(cfg.users_path.parent) == before  # nobody else is signed out
    assert "end at their next request" in capsys.readouterr().out


def test_password_changes_the_hash_of_an_existing_account_only(cfg, capsys):
    run(cfg, "add", "alice", "--password-stdin", stdin="correct horse")
    run(cfg, "add", "bob", "--password-stdin", stdin="battery staple")
    bob_before = load_hashes(cfg.users_path)["bob"]
    capsys.readouterr()
    assert run(cfg, "password", "alice", "--password-stdin", stdin="new password\n") == 0
    assert "end at their next request" in capsys.readouterr().out
    hashes = load_hashes(cfg.users_path)
    assert verify_password(hashes["alice"], "new password")
    assert not verify_password(hashes["alice"], "correct horse")
    assert hashes["bob"] == bob_before
    assert run(cfg, "password", "carol", "--password-stdin", stdin="new password") == 1
    assert "No user 'carol'" in capsys.readouterr().err
    assert run(cfg, "password", "alice", "--password-stdin", stdin="short") == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert verify_password(load_hashes(cfg.users_path)["alice"], "new password")


def test_list_when_empty(cfg, capsys):
    assert run(cfg, "list") == 0
    assert "No accounts" in capsys.readouterr().out


def test_duplicate_and_unknown_are_clear_errors(cfg, capsys):
    run(cfg, "add", "alice", "--password-stdin", stdin="correct horse")
    assert run(cfg, "add", "alice", "--password-stdin", stdin="other password") == 1
    assert "'alice' already exists" in capsys.readouterr().err
    assert run(cfg, "remove", "carol") == 1
    assert "No user 'carol'" in capsys.readouterr().err


def test_prompt_asks_twice_without_echo(cfg, monkeypatch, capsys):
    answers = iter(["first-password", "first-password"])
    prompts = []
    monkeypatch.setattr(cli.getpass, "getpass", lambda p: prompts.append(p) or next(answers))
    assert cli.main(["add", "alice"], config=cfg, stdin=Terminal()) == 0
    assert prompts == ["Password: ", "Password again: "]
    assert "first-password" not in capsys.readouterr().out


def test_prompt_mismatch_changes_nothing(cfg, monkeypatch, capsys):
    answers = iter(["first-password", "other-password"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda p: next(answers))
    assert cli.main(["add", "alice"], config=cfg, stdin=Terminal()) == 1
    assert "differ" in capsys.readouterr().err
    assert not cfg.users_path.exists()


def test_no_terminal_and_no_flag_is_refused(cfg, capsys):
    assert run(cfg, "add", "alice", stdin="pw-on-a-pipe") == 1
    assert "--password-stdin" in capsys.readouterr().err


def test_usage_errors_exit_2(cfg):
    with pytest.raises(SystemExit) as exit_info:
        run(cfg, "rename", "alice")
    assert exit_info.value.code == 2


def test_real_command_uses_users_file_and_never_prints_the_password(tmp_path):
    users = tmp_path / "elsewhere" / "users.json"
    env = {**os.environ, "USERS_FILE": str(users), "DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "backend.users"]
    added = subprocess.run(
        [*command, "add", "alice", "--password-stdin"],
        input="correct horse\n",
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    assert "correct horse" not in added.stdout + added.stderr
    assert list(load_hashes(users)) == ["alice"]
    listed = subprocess.run(
        [*command, "list"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert listed.stdout.split() == ["alice"]


def test_remove_with_a_configured_secret_writes_no_key_file(tmp_path, capsys):
    cfg = Config(data_dir=str(tmp_path / "data"), auth_secret="set-by-the-operator")
    run(cfg, "add", "alice", "--password-stdin", stdin="correct horse")
    assert run(cfg, "remove", "alice") == 0
    assert "end at their next request" in capsys.readouterr().out
    assert not (tmp_path / "data" / "auth_secret").exists()  # the operator's key stays theirs
