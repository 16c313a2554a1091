"""Signing the load tester in to the chat, once per run, before any level starts.

`app_cookie` returns the login cookie every app-target socket then carries: the account's
when ``user`` is given (its password from ``--password`` or LOADTEST_PASSWORD), the local
user's on a loopback chat without accounts, "" on a chat with no login at all. It raises
`LoginError` saying what to do when the chat cannot be reached, refuses the login, or asks
for one that was not given -- before a single request is timed.
"""

from __future__ import annotations

import httpx

from backend.auth.client import LoginError, login_cookie

HOW_TO_SIGN_IN = "pass --user NAME and --password, or set LOADTEST_PASSWORD instead of --password"


async def app_cookie(
    app_url: str, user: str = "", password: str = "", timeout_s: float = 30.0
) -> str:
    base = app_url.rstrip("/")
    try:
        cookie = await login_cookie(base, user, password, timeout_s)
        if cookie or user:
            return cookie
        async with httpx.AsyncClient(base_url=base, timeout=timeout_s) as http:
            needs_login = bool((await http.get("/auth/config")).json().get("requireLogin"))
    except LoginError as exc:
        hint = "" if password else f" (no password was given: {HOW_TO_SIGN_IN})"
        raise LoginError(f"{exc}{hint}") from None
    except (httpx.HTTPError, ValueError) as exc:
        raise LoginError(f"Cannot sign in to the chat at {base}: {exc}") from None
    if needs_login:
        raise LoginError(f"The chat at {base} asks for a login: {HOW_TO_SIGN_IN}.")
    return ""
