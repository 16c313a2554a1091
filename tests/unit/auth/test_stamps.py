"""Login stamps and the users file read on change: real files, real argon2, real tokens."""

from __future__ import annotations

import os

import pytest

from backend.auth import hooks, revocation
from backend.auth.stamps import SIGNED_OUT, STAMP_KEY, Accounts
from backend.auth.users import UsersFile, UsersFileError, add_user, remove_user, set_password
from backend.config import Config

KEY = "signing-key-" + "k" * 40


@pytest.fixture
def cfg(tmp_path):
    return Config(data_dir=str(tmp_path / "data"), chat_password="shortcut-pw")


def stamped(accounts: Accounts, name: str) -> dict:
    return {"role": "user", STAMP_KEY: accounts.stamp(name)}


def test_a_login_holds_until_its_account_is_removed(cfg):
    add_user(cfg.users_path, "alice", "password-a")
    add_user(cfg.users_path, "bob", "password-b")
    accounts = Accounts(cfg, KEY)
    alice, bob = stamped(accounts, "alice"), stamped(accounts, "bob")
    assert accounts.refusal("alice", alice) is None
    remove_user(cfg.users_path, "alice")
    assert accounts.refusal("alice", alice) == SIGNED_OUT
    assert accounts.refusal("bob", bob) is None  # the others stay signed in
    add_user(cfg.users_path, "alice", "password-a")  # same name, same password: new salt
    assert accounts.refusal("alice", alice) == SIGNED_OUT
    assert accounts.refusal("alice", stamped(accounts, "alice")) is None


def test_a_changed_password_ends_the_login(cfg):
    add_user(cfg.users_path, "alice", "password-a")
    accounts = Accounts(cfg, KEY)
    before = stamped(accounts, "alice")
    set_password(cfg.users_path, "alice", "password-a")
    assert accounts.refusal("alice", before) == SIGNED_OUT


@pytest.mark.parametrize(
    "metadata", [None, {}, {"role": "user"}, {STAMP_KEY: ""}, {STAMP_KEY: 7}, {STAMP_KEY: "x"}]
)
def test_a_login_without_the_right_stamp_is_refused(cfg, metadata):
    add_user(cfg.users_path, "alice", "password-a")
    assert Accounts(cfg, KEY).refusal("alice", metadata) == SIGNED_OUT


def test_a_stamp_is_bound_to_its_account_and_key(cfg):
    add_user(cfg.users_path, "alice", "password-a")
    add_user(cfg.users_path, "bob", "password-b")
    accounts = Accounts(cfg, KEY)
    assert accounts.refusal("bob", stamped(accounts, "alice")) == SIGNED_OUT
    other_key = Accounts(cfg, "another-key-" + KEY)
    assert other_key.refusal("alice", stamped(accounts, "alice")) == SIGNED_OUT
    assert accounts.stamp("nobody") is None


def test_the_chat_password_account_holds_while_its_password_does(cfg):
    accounts = Accounts(cfg, KEY)
    demo = stamped(accounts, "demo")
    assert accounts.refusal("demo", demo) is None
    changed = Accounts(cfg.model_copy(update={"chat_password": "new-pw"}), KEY)
    assert changed.refusal("demo", demo) == SIGNED_OUT
    unset = Accounts(cfg.model_copy(update={"chat_password": ""}), KEY)
    assert unset.refusal("demo", demo) == SIGNED_OUT


def test_an_unreadable_users_file_signs_everybody_out(cfg):
    add_user(cfg.users_path, "alice", "password-a")
    accounts = Accounts(cfg, KEY)
    alice = stamped(accounts, "alice")
    cfg.users_path.write_text("{oops")
    assert accounts.refusal("alice", alice) == SIGNED_OUT


def test_the_users_file_is_read_again_only_when_it_changed(tmp_path):
    path = tmp_path / "users.json"
    add_user(path, "alice", "password-a")
    users = UsersFile(path)
    assert list(users.hashes()) == ["alice"]
    # Same inode, size and mtime: an in-place edit put back to the old mtime is not seen,
    # which proves the unchanged file is not read again.
    info = path.stat()
    with path.open("r+") as out:
        out.write(path.read_text().replace('"alice"', '"alicf"'))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert list(users.hashes()) == ["alice"]
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1))  # the mtime alone moved
    assert list(users.hashes()) == ["alicf"]
    add_user(path, "bob", "password-b")  # replaced by rename: a new inode
    assert sorted(users.hashes()) == ["alicf", "bob"]
    path.unlink()
    assert users.hashes() == {}
    path.write_text("{oops")
    with pytest.raises(UsersFileError):
        users.hashes()


async def test_password_login_stamps_the_user(cfg):
    add_user(cfg.users_path, "alice", "password-a")
    accounts = Accounts(cfg, KEY)
    user = await hooks.password_login(accounts, "alice", "password-a")
    assert user is not None and accounts.refusal("alice", user.metadata) is None
    assert await hooks.password_login(accounts, "alice", "wrong-password") is None


def test_tokens_are_checked_by_their_stamp(cfg, monkeypatch):
    from chainlit.auth import create_jwt
    from chainlit.user import User

    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", KEY)
    add_user(cfg.users_path, "alice", "password-a")
    accounts = Accounts(cfg, KEY)
    token = create_jwt(User(identifier="alice", metadata=stamped(accounts, "alice")))
    assert revocation.token_refusal(accounts, token) is None
    assert revocation.token_refusal(accounts, None) is None  # Chainlit refuses it itself
    assert revocation.token_refusal(accounts, token[:-4] + "AAAA") is None  # forged: same
    remove_user(cfg.users_path, "alice")
    assert revocation.token_refusal(accounts, token) == SIGNED_OUT
