"""What app.py's Chainlit auth hooks run, and the set-up they need before Chainlit starts.

`prepare` decides the mode (see `policy`), hands Chainlit its signing key through the
one channel Chainlit reads it from (the CHAINLIT_AUTH_SECRET environment variable), puts
the ownership checks of `guard` in front of Chainlit's routes and, with accounts, the
login-stamp check of `revocation` in front of every route and socket event.
`local_user` is the header callback of the loopback mode: every request is the local user,
so the front end skips its login page. `password_login` checks CHAT_PASSWORD's account and
the users file, off the event loop (argon2 takes tens of milliseconds on purpose), and
stamps the login (see `stamps`) so that it ends with the account or its password.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import chainlit as cl
from chainlit import server
from chainlit.session import BaseSession

from backend.auth import guard, revocation
from backend.auth.local_cookie import LocalUserCookie
from backend.auth.passwords import verify_password
from backend.auth.policy import plan_auth
from backend.auth.secret import kept_secret, signing_secret
from backend.auth.stamps import STAMP_KEY, Accounts
from backend.auth.users import LOCAL_USER, load_hashes
from backend.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Login:
    mode: Literal["local", "accounts"]
    accounts: Accounts  # stamps and checks password logins (unused in local mode)


def prepare(config: Config, bind_host: str | None = None) -> Login:
    """The login mode; sets Chainlit's signing key. Raises `AuthSetupError` (see policy)."""
    plan = plan_auth(config, bind_host)
    base = config.auth_secret or kept_secret(Path(config.data_dir))
    os.environ["CHAINLIT_AUTH_SECRET"] = signing_secret(base, plan.mode == "local")
    accounts = Accounts(config, base)
    guard.install()
    if plan.mode == "local":
        server.app.add_middleware(LocalUserCookie, user_factory=local_user)
    else:
        revocation.install(accounts)
    return Login(plan.mode, accounts)


def forget_refused_resume(session: BaseSession) -> None:
    """Give a new thread id to a chat that starts although its tab asked to resume a
    thread (someone else's, or one that could not be read). Chainlit keeps the asked id,
    so the tab's messages would be filed under it, and its first message would make the
    asker that thread's owner."""
    if session.thread_id_to_resume and not session.has_first_interaction:
        session.thread_id = str(uuid.uuid4())
        session.thread_id_to_resume = None


def local_user() -> cl.User:
    return cl.User(identifier=LOCAL_USER, metadata={"role": "user", "provider": "local"})


async def password_login(accounts: Accounts, username: str, password: str) -> cl.User | None:
    stamp = await asyncio.to_thread(_stamped_login, accounts, username, password)
    if stamp is None:
        return None
    return cl.User(identifier=username, metadata={"role": "user", STAMP_KEY: stamp})


def _stamped_login(accounts: Accounts, username: str, password: str) -> str | None:
    """The login's stamp when the password is right, else None."""
    if not check_login(accounts.config, username, password):
        return None
    return accounts.stamp(username)


def check_login(config: Config, username: str, password: str) -> bool:
    """True for CHAT_USERNAME with CHAT_PASSWORD, or a user of the file with its password.
    An unknown user costs the same argon2 work as a known one."""
    if config.chat_password and hmac.compare_digest(
        username.encode(), config.chat_username.encode()
    ):
        return hmac.compare_digest(password.encode(), config.chat_password.encode())
    try:
        stored = load_hashes(config.users_path).get(username)
    except ValueError as exc:
        log.error("Login refused: %s", exc)  # an unreadable users file logs nobody in
        stored = None
    return verify_password(stored, password)
