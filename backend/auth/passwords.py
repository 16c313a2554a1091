"""Password hashes: argon2id with argon2-cffi's default parameters (RFC 9106's low-memory
profile). Verification never raises and spends the same work on an unknown user as on a
known one: callers pass ``None`` for a missing user and a dummy hash is verified instead.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash("no such user: the same argon2 work as for a real one")


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string, salt included) of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False for ``None`` or a malformed hash."""
    try:
        matched = _HASHER.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None
