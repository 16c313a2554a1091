"""The server's own view of one load level, summarised from its ``/metrics`` samples (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from backend.server.metrics import ServerMetrics


@dataclass(frozen=True)
class ServerView:
    samples: int
    running_max: int
    running_mean: float
    waiting_max: int
    waiting_mean: float
    kv_cache_usage_max: float
    kv_cache_usage_mean: float
    preemptions: int  # delta over the level
    prefix_cache_hit_rate: float | None  # hits / queries over the level, None without queries
    generation_tokens: int = 0  # the engine's own output-token count over the sampled window
    generation_tok_s: float | None = None  # that count / the window (first to last sample)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize_server(
    samples: Sequence[ServerMetrics], times_s: Sequence[float] = ()
) -> ServerView | None:
    """``None`` when the server exposed no metrics during the level. ``times_s`` are the
    samples' clock readings; with them the engine's own output rate is reported, a check on
    the client's count that does not depend on how fast the client reads."""
    if not samples:
        return None
    first, last = samples[0], samples[-1]
    running = [s.num_requests_running for s in samples]
    waiting = [s.num_requests_waiting for s in samples]
    kv = [s.kv_cache_usage for s in samples]
    queries = last.prefix_cache_queries - first.prefix_cache_queries
    hits = last.prefix_cache_hits - first.prefix_cache_hits
    generated = max(last.generation_tokens - first.generation_tokens, 0)
    window_s = times_s[-1] - times_s[0] if len(times_s) == len(samples) > 1 else 0.0
    return ServerView(
        samples=len(samples),
        running_max=max(running),
        running_mean=sum(running) / len(running),
        waiting_max=max(waiting),
        waiting_mean=sum(waiting) / len(waiting),
        kv_cache_usage_max=max(kv),
        kv_cache_usage_mean=sum(kv) / len(kv),
        preemptions=max(last.num_preemptions - first.num_preemptions, 0),
        prefix_cache_hit_rate=hits / queries if queries > 0 else None,
        generation_tokens=generated,
        generation_tok_s=generated / window_s if window_s > 0 else None,
    )
