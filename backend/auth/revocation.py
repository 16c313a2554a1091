"""The login-stamp check (`stamps`) in front of everything a signed-in user can reach, so a
removed or re-passworded account loses access at its next request, not at a restart.

- HTTP: every Chainlit route that needs a user (``/user``, the history list, a thread's
  get, rename and delete, elements and files -- exports are files --, feedback) takes it
  from Chainlit's ``get_current_user`` dependency; `install` overrides that dependency
  (FastAPI's ``dependency_overrides``) with one that first answers 401 with `SIGNED_OUT`.
- Socket connect (a new tab, a reload, a resumed conversation, a reconnect): refused with
  `SIGNED_OUT` (socket.io's ``connect_error`` carries it) before Chainlit's handler runs.
- An open socket: each event the browser sends (a message, an edit, the settings panel,
  an action, Stop...) is checked first; a signed-out tab is told so in one error message
  and disconnected, and the event is not handled.

A token that is missing, expired or badly signed is left to Chainlit, which refuses it.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from chainlit import server
from chainlit.auth import get_current_user, get_token_from_cookies, reuseable_oauth
from chainlit.auth.jwt import decode_jwt
from chainlit.session import WebsocketSession
from fastapi import Depends, HTTPException
from socketio.exceptions import ConnectionRefusedError as SocketRefused
from starlette.requests import cookie_parser

from backend.auth.stamps import Accounts

NOTICE_AUTHOR = "Chat"
UNCHECKED_EVENTS = ("connect", "disconnect")  # connect has its own check
_CHECKED = "_login_stamp_checked"


def token_refusal(accounts: Accounts, token: str | None) -> str | None:
    """Why a valid ``token`` no longer signs anybody in; None to let Chainlit decide."""
    if not token:
        return None
    try:
        user = decode_jwt(token)
    except Exception:  # expired or forged: Chainlit's own check refuses it
        return None
    return accounts.refusal(user.identifier, user.metadata)


def checked_current_user(accounts: Accounts) -> Callable[..., Any]:
    """Chainlit's ``get_current_user`` behind the stamp check."""

    async def current_user(token: str = Depends(reuseable_oauth)) -> Any:
        if refusal := token_refusal(accounts, token):
            raise HTTPException(status_code=401, detail=refusal)
        return await get_current_user(token)

    return current_user


def install(accounts: Accounts) -> None:
    """Check every HTTP route and socket event of Chainlit's server (idempotent)."""
    server.app.dependency_overrides[get_current_user] = checked_current_user(accounts)
    handlers = server.sio.handlers.setdefault("/", {})
    for event, handler in list(handlers.items()):
        if getattr(handler, _CHECKED, False) or event == "disconnect":
            continue
        if event == "connect":
            checked = _checked_connect(accounts, handler)
        else:
            checked = _checked_event(accounts, handler)
        setattr(checked, _CHECKED, True)
        handlers[event] = checked


def _checked_connect(accounts: Accounts, handler: Callable[..., Any]) -> Callable[..., Any]:
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        cookies = cookie_parser(environ.get("HTTP_COOKIE") or "")
        if refusal := token_refusal(accounts, get_token_from_cookies(cookies)):
            raise SocketRefused(refusal)
        return await _call(handler, sid, environ, auth)

    return connect


def _checked_event(accounts: Accounts, handler: Callable[..., Any]) -> Callable[..., Any]:
    async def event(sid: str, *args: Any) -> Any:
        session = WebsocketSession.get(sid)
        if session is not None and (refusal := token_refusal(accounts, session.token)):
            await sign_out(sid, session, refusal)
            return None
        return await _call(handler, sid, *args)

    return event


async def sign_out(sid: str, session: WebsocketSession, refusal: str) -> None:
    """Tell the tab why, then end its socket (its browser does not reconnect on its own)."""
    await _call(session.emit, "new_message", notice_step(session.thread_id, refusal))
    await server.sio.disconnect(sid)


def notice_step(thread_id: str, text: str) -> dict[str, Any]:
    """An error message from the chat, as Chainlit's front end renders one."""
    return {
        "id": str(uuid.uuid4()),
        "threadId": thread_id,
        "parentId": None,
        "type": "assistant_message",
        "name": NOTICE_AUTHOR,
        "output": text,
        "isError": True,
        "streaming": False,
        "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }


async def _call(handler: Callable[..., Any], *args: Any) -> Any:
    result = handler(*args)
    return await result if inspect.isawaitable(result) else result
