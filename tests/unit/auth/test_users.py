"""The users file and argon2 hashing: real files in a temp folder, real argon2."""

from __future__ import annotations

import json
import stat

import bcrypt
import pytest

from backend.auth.passwords import hash_password, verify_password
from backend.auth.users import (
    UsersFileError,
    add_user,
    list_users,
    load_hashes,
    remove_user,
)


@pytest.fixture
def users_file(tmp_path):
    return tmp_path / "data" / "users.json"


def test_hash_is_argon2id_salted_and_verifies():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "correct horse")
    assert not verify_password(first, "correct horsE")
    assert not verify_password(first, "")


# A published bcrypt test vector (OpenWall's crypt_blowfish suite): "U*U", cost 5.
VECTOR = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_bcrypt_hashes_from_elsewhere_verify(prefix):
    stored = prefix + VECTOR.removeprefix("$2a$")
    assert verify_password(stored, "U*U")
    assert not verify_password(stored, "U*V")
    assert not verify_password(stored, "")


def test_bcrypt_reads_the_first_72_bytes_as_other_implementations_do():
    password = "é" * 50  # 100 bytes in UTF-8
    stored = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert verify_password(stored, password)
    assert not verify_password(stored, "é" * 35)  # 70 bytes: two short


@pytest.mark.parametrize(
    "stored",
    [None, "", "not-a-hash", "$argon2id$v=19$broken", "$2b$04$garbage", "$2b$04$é" + "x" * 50],
)
def test_missing_or_malformed_hash_never_verifies(stored):
    assert verify_password(stored, "anything") is False


def test_missing_file_means_no_accounts(users_file):
    assert load_hashes(users_file) == {}
    assert list_users(users_file) == []


def test_add_list_remove_round_trip(users_file):
    add_user(users_file, "bob", "password-b")
    add_user(users_file, "alice", "password-a")
    assert list_users(users_file) == ["alice", "bob"]
    hashes = load_hashes(users_file)
    assert verify_password(hashes["alice"], "password-a")
    assert not verify_password(hashes["alice"], "password-b")
    remove_user(users_file, "bob")
    assert list_users(users_file) == ["alice"]


def test_file_holds_hashes_only_and_is_private(users_file):
    add_user(users_file, "alice", "s3cret-passphrase")
    text = users_file.read_text()
    assert "s3cret-passphrase" not in text
    assert json.loads(text)["users"]["alice"]["hash"].startswith("$argon2id$")
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(users_file.parent.stat().st_mode) == 0o700
    assert [p.name for p in users_file.parent.iterdir()] == ["users.json"]  # no temp left


def test_duplicate_is_refused_and_keeps_the_first_password(users_file):
    add_user(users_file, "alice", "first-password")
    with pytest.raises(UsersFileError, match="'alice' already exists"):
        add_user(users_file, "alice", "second-password")
    assert verify_password(load_hashes(users_file)["alice"], "first-password")


def test_unknown_user_removal_names_the_known_ones(users_file):
    add_user(users_file, "alice", "password-a")
    with pytest.raises(UsersFileError, match=r"No user 'carol'.*users: alice"):
        remove_user(users_file, "carol")
    assert list_users(users_file) == ["alice"]


@pytest.mark.parametrize(
    "name,needle",
    [
        ("", "Invalid user name"),
        ("a b", "Invalid user name"),
        ("-x", "Invalid user name"),
        ("x" * 65, "Invalid user name"),
        ("al\nice", "Invalid user name"),
        ("local", "reserved"),
    ],
)
def test_bad_names_are_refused(users_file, name, needle):
    with pytest.raises(UsersFileError, match=needle):
        add_user(users_file, name, "long-enough")
    assert not users_file.exists()


def test_short_password_is_refused(users_file):
    with pytest.raises(UsersFileError, match="at least 8 characters"):
        add_user(users_file, "alice", "short")


@pytest.mark.parametrize(
    "content", ["{not json", "[]", '{"users": []}', '{"users": {"a": {"hash": 1}}}', "\xff"]
)
def test_corrupt_file_is_reported_and_left_alone(users_file, content):
    users_file.parent.mkdir(parents=True)
    users_file.write_bytes(content.encode("latin-1"))
    with pytest.raises(UsersFileError, match=str(users_file)):
        load_hashes(users_file)
    with pytest.raises(UsersFileError):
        add_user(users_file, "alice", "password-a")
    assert users_file.read_bytes() == content.encode("latin-1")
