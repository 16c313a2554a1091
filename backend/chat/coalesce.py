"""Coalesce streamed text into few UI events.

Chainlit sends one websocket event per ``stream_token`` call; a fast server streams
hundreds of tokens per second per user. The first piece goes out at once (time to first
token is what users feel); after that text is gathered and sent once per ``interval_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Coalescer:
    def __init__(self, interval_s: float = 0.05, clock: Callable[[], float] = time.monotonic):
        self._interval_s = interval_s
        self._clock = clock
        self._buffer: list[str] = []
        self._last_flush: float | None = None

    @property
    def interval_s(self) -> float:
        return self._interval_s

    @interval_s.setter
    def interval_s(self, value: float) -> None:
        self._interval_s = value

    def add(self, text: str) -> str | None:
        """Buffer ``text``; return what should be sent now, if anything."""
        self._buffer.append(text)
        now = self._clock()
        if self._last_flush is None or now - self._last_flush >= self._interval_s:
            self._last_flush = now
            return self.drain()
        return None

    def drain(self) -> str:
        text, self._buffer = "".join(self._buffer), []
        return text
