"""The key Chainlit signs login cookies with (its CHAINLIT_AUTH_SECRET).

CHAINLIT_AUTH_SECRET from the configuration wins; otherwise one is generated on first
start and kept in DATA_DIR/auth_secret (mode 600), so logins survive restarts and
``./start.sh`` needs no set-up. The local user's cookies are signed with a key derived
for that mode alone: one issued on a loopback chat is worthless once accounts are on.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

SECRET_FILE = "auth_secret"


def kept_secret(data_dir: Path) -> str:
    """The secret in ``data_dir``, created (atomically, mode 600) when there is none."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        _create(path)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise OSError(f"{path} is empty; delete it to have a new secret generated")
    return value


def signing_secret(base: str, local_mode: bool) -> str:
    """The key handed to Chainlit: ``base`` for accounts, a derived key for the local user."""
    if not local_mode:
        return base
    return hmac.new(base.encode(), b"local-user-cookies", hashlib.sha256).hexdigest()


def _create(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".auth_secret-", dir=path.parent)  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, path)  # fails if another process created it first: keep theirs
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)
