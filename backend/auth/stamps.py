"""Login stamps: a login lasts only as long as the account and password it was made with.

At login the chat writes a *stamp* into the token's metadata: an HMAC, keyed with the
login signing key, of the account's password hash as it is then (the users file's argon2
hash; for the CHAT_PASSWORD account, that password). Every later request recomputes the
stamp from the accounts as they are now (`Accounts.refusal`): an account that was removed,
or whose password changed (a new hash has a new salt, even for the same password), no
longer matches, and the token is refused with `SIGNED_OUT`. A token with no stamp (one
issued before accounts were checked this way) is refused too: its user signs in again.

The users file is read again only when it changed (`UsersFile`), so a check costs one
``stat``. Pure: no Chainlit here (`revocation` puts the check in front of Chainlit).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from backend.auth.users import UsersFile, UsersFileError
from backend.config import Config

log = logging.getLogger(__name__)

STAMP_KEY = "login_stamp"
SIGNED_OUT = (
    "You have been signed out: your account was removed or its password changed."
    " Sign in again (ask the chat's administrator if you no longer can)."
)


class Accounts:
    """The chat's accounts as they are now, for stamping logins and checking them."""

    def __init__(self, config: Config, signing_key: str):
        self.config = config
        self._key = signing_key.encode()
        self._users = UsersFile(config.users_path)

    def stamp(self, name: str) -> str | None:
        """The current stamp of account ``name``; None when there is no such account."""
        secret = self._secret_of(name)
        if secret is None:
            return None
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()[:32]

    def refusal(self, name: str, metadata: dict[str, Any] | None) -> str | None:
        """`SIGNED_OUT` when a login of ``name`` with ``metadata`` no longer holds, else None."""
        given = (metadata or {}).get(STAMP_KEY)
        current = self.stamp(name)
        if not isinstance(given, str) or current is None:
            return SIGNED_OUT
        return None if hmac.compare_digest(given, current) else SIGNED_OUT

    def _secret_of(self, name: str) -> str | None:
        cfg = self.config
        if cfg.chat_password and hmac.compare_digest(name.encode(), cfg.chat_username.encode()):
            return "chat-password:" + cfg.chat_password
        try:
            stored = self._users.hashes().get(name)
        except UsersFileError as exc:  # unreadable: nobody is let in until it is fixed
            log.error("Request refused: %s", exc)
            return None
        return None if stored is None else "users-file:" + stored
