"""Which login the chat uses, decided once at start from the configuration.

- accounts configured (CHAT_PASSWORD or a users file with at least one user): password
  login for everybody, whatever the address;
- no account on a loopback address: no login, one local user;
- no account on any other address: refused, with a message saying what to do.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from backend.auth.users import load_hashes
from backend.config import Config


class AuthSetupError(ValueError):
    """The chat must not start with this configuration; the message says what to change."""


@dataclass(frozen=True)
class AuthPlan:
    mode: Literal["local", "accounts"]


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def plan_auth(config: Config, bind_host: str | None = None) -> AuthPlan:
    """The login mode for ``config``; ``bind_host`` is the address actually served, when
    it can differ from HOST (``chainlit run --host``). Raises `AuthSetupError` for a
    network address with no account, and for a users file that cannot be read."""
    if config.chat_password or load_hashes(config.users_path):
        return AuthPlan("accounts")
    exposed = [h for h in {config.host, bind_host or config.host} if not is_loopback(h)]
    if exposed:
        raise AuthSetupError(
            f"Refusing to start: the chat would listen on {exposed[0]}, reachable from other"
            " machines, and no account is configured. Add one with"
            " `.venv/bin/python -m backend.users add NAME` (or set CHAT_PASSWORD), or set"
            " HOST=127.0.0.1 to keep the chat on this machine."
        )
    return AuthPlan("local")
