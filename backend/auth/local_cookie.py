"""Hand the local user's login cookie out with the page itself (loopback mode only).

Chainlit's front end signs in through ``/auth/header`` from its login page: without a
cookie, the first load bounces ``/`` -> ``/login`` -> ``/`` and a message typed during
the bounce is lost. This ASGI middleware adds the local user's cookie to any HTML page
served to a browser that has no valid one, so the first page is already signed in.
"""

from __future__ import annotations

from collections.abc import Callable

from chainlit.auth import create_jwt, get_token_from_cookies, set_auth_cookie
from chainlit.auth.jwt import decode_jwt
from chainlit.user import User
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class LocalUserCookie:
    def __init__(self, app: ASGIApp, user_factory: Callable[[], User]) -> None:
        self.app = app
        self.user_factory = user_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or _signed_in(scope):
            return await self.app(scope, receive, send)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_html(message):
                message = {**message, "headers": [*message["headers"], *self._cookie(scope)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        carrier = Response()
        set_auth_cookie(Request(scope), carrier, create_jwt(self.user_factory()))
        return [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]


def _signed_in(scope: Scope) -> bool:
    token = get_token_from_cookies(Request(scope).cookies)
    if not token:
        return False
    try:
        decode_jwt(token)
    except Exception:  # expired, or signed with another key
        return False
    return True


def _is_html(message: Message) -> bool:
    content_type = dict(message["headers"]).get(b"content-type", b"")
    return content_type.startswith(b"text/html")
