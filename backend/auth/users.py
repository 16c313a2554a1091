"""The users file: account names and their password hashes, as JSON (argon2; bcrypt hashes
brought from elsewhere verify too, passwords.py).

Format: ``{"version": 1, "users": {"alice": {"hash": "$argon2id$...", "created": "..."}}}``.
A missing file means no accounts. Writes go to a temporary file (mode 600) that replaces
the old one, so a reader never sees half a file and the hashes stay private to the owner.
The chat reads the file at each login, so added and removed accounts apply at once;
`UsersFile` keeps the last reading and reads again only when the file changed (one
``stat`` per look-up), for the checks that run on every request.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from backend.auth.passwords import hash_password

FORMAT_VERSION = 1
MIN_PASSWORD_CHARS = 8
# The one user of a loopback chat with no accounts; an account of that name would share
# that user's conversations.
LOCAL_USER = "local"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class UsersFileError(ValueError):
    """The users file cannot be read or a change to it is refused; the message says why."""


def load_hashes(path: Path) -> dict[str, str]:
    """Account name -> password hash; empty when the file does not exist."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsersFileError(f"Cannot read the users file {path}: {exc}") from None
    users = raw.get("users") if isinstance(raw, dict) else None
    if not isinstance(users, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("hash"), str) for v in users.values()
    ):
        raise UsersFileError(f"The users file {path} is not in the expected format.")
    return {name: entry["hash"] for name, entry in users.items()}


class UsersFile:
    """`load_hashes` of one path, read again only when the file's inode, size or
    modification time changed (a replaced file gets a new inode, so an edit is never
    missed within one mtime tick). A missing file is no accounts; an unreadable one
    raises `UsersFileError` at each look-up until it is fixed."""

    def __init__(self, path: Path):
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._hashes: dict[str, str] = {}

    def hashes(self) -> dict[str, str]:
        try:
            info = self.path.stat()
            seen: tuple[int, int, int] | None = (info.st_ino, info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if seen is None:
            self._seen, self._hashes = None, {}
        elif seen != self._seen:
            self._hashes, self._seen = load_hashes(self.path), seen
        return self._hashes


def list_users(path: Path) -> list[str]:
    return sorted(load_hashes(path))


def add_user(path: Path, name: str, password: str) -> None:
    """Add account ``name``; refuses a taken or invalid name and a short password."""
    check_name(name)
    _check_password(password)
    entries = _load_entries(path)
    if name in entries:
        raise UsersFileError(
            f"User {name!r} already exists; to change its password:"
            f" `python -m backend.users password {name}`."
        )
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries[name] = {"hash": hash_password(password), "created": created}
    _write(path, entries)


def remove_user(path: Path, name: str) -> None:
    entries = _existing(path, name)
    del entries[name]
    _write(path, entries)


def set_password(path: Path, name: str, password: str) -> None:
    """Give existing account ``name`` a new password (a new hash, with a new salt)."""
    _check_password(password)
    entries = _existing(path, name)
    entries[name]["hash"] = hash_password(password)
    _write(path, entries)


def _existing(path: Path, name: str) -> dict[str, dict]:
    entries = _load_entries(path)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise UsersFileError(f"No user {name!r} in {path} (users: {known}).")
    return entries


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"The password must have at least {MIN_PASSWORD_CHARS} characters.")


def check_name(name: str) -> None:
    if name == LOCAL_USER:
        raise UsersFileError(f"{LOCAL_USER!r} is reserved for the chat's local user.")
    if not _NAME.fullmatch(name):
        raise UsersFileError(
            f"Invalid user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit."
        )


def _load_entries(path: Path) -> dict[str, dict]:
    load_hashes(path)  # validates
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["users"]


def _write(path: Path, entries: dict[str, dict]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps({"version": FORMAT_VERSION, "users": entries}, indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=path.parent)  # created with mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
