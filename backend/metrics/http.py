"""``GET /metrics`` on the chat's own server, and who may read it.

Rule (`refusal`): with METRICS_TOKEN set, a request needs ``Authorization: Bearer <token>``.
Without a token the metrics are served only while the chat listens on loopback
(HOST=127.0.0.1, the default); a chat open to a network refuses them until a token is set.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from backend.config import Config

METRICS_PATH = "/metrics"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(config: Config, authorization: str | None) -> tuple[int, str] | None:
    """None when the request may read the metrics, else (HTTP status, reason)."""
    if config.metrics_token:
        expected = f"Bearer {config.metrics_token}".encode()
        if authorization and hmac.compare_digest(authorization.encode(), expected):
            return None
        return 401, "Metrics need 'Authorization: Bearer <METRICS_TOKEN>'."
    if is_loopback(config.host):
        return None
    return 403, "The chat listens beyond loopback: set METRICS_TOKEN to serve its metrics."


def install(app: FastAPI, config: Config, registry: CollectorRegistry) -> None:
    """Add ``/metrics`` ahead of Chainlit's catch-all page route (once)."""
    if any(getattr(r, "path", None) == METRICS_PATH for r in app.router.routes):
        return

    async def metrics(request: Request) -> Response:
        refused = refusal(config, request.headers.get("authorization"))
        if refused is not None:
            status, reason = refused
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return PlainTextResponse(reason, status_code=status, headers=headers)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())
