"""The load tester's secrets come from the chat's configuration (backend/config.py), never
from its own reading of the environment; options on the command line win."""

from __future__ import annotations

import pytest

from backend.loadtest import cli


def test_the_api_key_and_password_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "key-from-env")
    monkeypatch.setenv("LOADTEST_PASSWORD", "password-from-env")
    args = cli.parse_args(["--target", "app", "--user", "tester"])
    assert (args.api_key, args.user, args.password) == (
        "key-from-env",
        "tester",
        "password-from-env",
    )


def test_options_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "key-from-env")
    monkeypatch.setenv("LOADTEST_PASSWORD", "password-from-env")
    args = cli.parse_args(["--api-key", "key-option", "--password", "password-option"])
    assert (args.api_key, args.password) == ("key-option", "password-option")


def test_no_key_anywhere_is_none(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "")  # empty counts as unset
    monkeypatch.delenv("LOADTEST_PASSWORD", raising=False)
    args = cli.parse_args([])
    assert args.api_key is None and args.password == "" and args.user == ""


def test_an_unusable_configuration_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args([])
    assert exit_info.value.code == 2
    assert "PORT='not-a-port'" in capsys.readouterr().err
