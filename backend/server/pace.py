"""How many tokens vLLM puts in each streamed chunk: its per-request ``stream_interval``.

Every chunk costs the chat the same work however many tokens it carries (an HTTP read, an
SSE event, a JSON parse, a routing step): that was more than half of the chat's CPU per
answer at GPU speed, where vLLM sends a chunk per token. The page shows new text at most
once per flush interval (STREAM_FLUSH_MS), so a chunk may carry the tokens a stream makes in
half a flush interval and every flush still has new text: 6 at 270 tokens/s and 50 ms.

The stream's pace is learned from answers that finished: the median tokens per second of
the last `WINDOW` answers of at least `MIN_TOKENS` tokens (short answers' rates are noise;
the median ignores one odd answer). Until the first such answer, and whenever a stream
makes less than two tokens per half flush interval (a CPU engine), each chunk is one token,
as before. STREAM_INTERVAL_TOKENS fixes the number instead; vLLM always sends the first token
at once, so the time to the first token never changes.
"""

from __future__ import annotations

import statistics
from collections import deque

WINDOW = 32
MIN_TOKENS = 32
MAX_TOKENS_PER_CHUNK = 16


class StreamPace:
    def __init__(self, flush_s: float, fixed_tokens: int = 0) -> None:
        """``fixed_tokens``: that many tokens per chunk always (0: learn from the answers)."""
        self._flush_s = flush_s
        self._fixed = fixed_tokens
        self._rates: deque[float] = deque(maxlen=WINDOW)

    def observe(self, tokens: int | None, tokens_per_s: float | None) -> None:
        """One finished answer: its token count and tokens per second after the first."""
        if tokens is not None and tokens >= MIN_TOKENS and tokens_per_s:
            self._rates.append(tokens_per_s)

    @property
    def tokens_per_chunk(self) -> int:
        if self._fixed:
            return self._fixed
        if not self._rates:
            return 1
        per_half_flush = int(statistics.median(self._rates) * self._flush_s / 2)
        return max(1, min(MAX_TOKENS_PER_CHUNK, per_half_flush))
