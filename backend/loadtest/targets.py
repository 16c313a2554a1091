"""What a level is sent to, as plain data a client process can receive, and how to open it.

``TargetSpec`` is picklable, so each client process builds its own target (its own connection
pool, its own sockets) from the same description the single-process run uses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from backend.loadtest.direct import DirectTarget, make_client, prime
from backend.loadtest.metrics import RequestResult
from backend.loadtest.tokenizer import Endpoint, Tokenizer, api_url_of
from backend.loadtest.workload import RequestSpec


class Target(Protocol):
    def send(self, spec: RequestSpec) -> Awaitable[RequestResult]: ...


@dataclass(frozen=True)
class TargetSpec:
    name: Literal["direct", "app"]
    base_url: str
    api_key: str | None
    model: str | None
    endpoint: Endpoint
    app_url: str
    think_command: str
    timeout_s: float
    pool: int  # connections the direct target keeps open
    app_sets_lengths: bool = True  # the app target submits max tokens through the panel
    app_cookie: str | None = None  # the run's login (app_login); None: the local user's
    app_turns: int = 1  # answers per chat session


@asynccontextmanager
async def open_target(spec: TargetSpec) -> AsyncIterator[Target]:
    """The target ``spec`` describes; its connections close when the block ends."""
    if spec.name == "app":
        # Imported here: direct-only runs need no socket.io client installed.
        from backend.loadtest.app_target import AppTarget

        async with httpx.AsyncClient(timeout=30.0) as http:
            tokenizer = Tokenizer(spec.base_url, spec.model, spec.endpoint, http, spec.api_key)
            app = AppTarget(
                spec.app_url,
                count_text=tokenizer.count_text,
                think_command=spec.think_command,
                timeout_s=spec.timeout_s,
                set_lengths=spec.app_sets_lengths,
                cookie=spec.app_cookie,
                turns=spec.app_turns,
            )
            try:
                yield app
            finally:
                await app.close()
        return
    client = make_client(api_url_of(spec.base_url), spec.api_key, spec.pool, spec.timeout_s)
    try:
        await prime(spec.endpoint)
        yield DirectTarget(client, spec.model or "", spec.endpoint)
    finally:
        await client.close()
