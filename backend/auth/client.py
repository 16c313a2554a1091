"""Signing in to a running chat the way its front end does, for programs (the load
tester, tests): no Chainlit import, only HTTP.

`login_cookie` returns the ``Cookie`` header a socket.io connection needs: the local
user's when the chat runs without login (its front end posts to ``/auth/header``), a
password login's when ``username`` and ``password`` are given, and "" when the chat
needs no login at all. A refused login raises `LoginError`.
"""

from __future__ import annotations

import httpx


class LoginError(RuntimeError):
    """The chat refused the login; the message says which and why."""


async def login_cookie(
    app_url: str, username: str = "", password: str = "", timeout_s: float = 30.0
) -> str:
    base = app_url.rstrip("/")
    async with httpx.AsyncClient(base_url=base, timeout=timeout_s) as http:
        auth = (await http.get("/auth/config")).json()
        if username:
            reply = await http.post("/login", data={"username": username, "password": password})
        elif auth.get("headerAuth"):
            reply = await http.post("/auth/header")
        else:
            return ""
    if username and reply.status_code == 401:
        raise LoginError(f"{base} refused the login of {username!r}: wrong user name or password")
    if reply.status_code != 200:
        raise LoginError(f"{base} refused the login ({reply.status_code}): {reply.text[:200]}")
    return "; ".join(f"{name}={value}" for name, value in reply.cookies.items())
