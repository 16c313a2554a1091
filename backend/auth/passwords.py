"""Password hashes: argon2id with argon2-cffi's default parameters (RFC 9106's low-memory
profile). Verification never raises and spends the same work on an unknown user as on a
known one: callers pass ``None`` for a missing user and a dummy hash is verified instead.

A users file may also hold bcrypt hashes (``$2a$``, ``$2b$``, ``$2y$``: what ``htpasswd -B``
and most web frameworks write), so accounts can be brought over from elsewhere; new and
changed passwords are hashed with argon2id.
"""

from __future__ import annotations

from functools import lru_cache

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT_MAX_BYTES = 72  # bcrypt reads no further; other implementations cut there too


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("no such user: the same argon2 work as for a real one")


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string, salt included) of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False for ``None`` or a malformed hash."""
    if stored_hash is not None and stored_hash.startswith(BCRYPT_PREFIXES):
        secret = password.encode("utf-8")[:BCRYPT_MAX_BYTES]
        try:
            return bcrypt.checkpw(secret, stored_hash.encode("ascii"))
        except (ValueError, UnicodeEncodeError):  # not a valid bcrypt hash
            return False
    try:
        matched = _HASHER.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None
