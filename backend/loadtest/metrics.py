"""Per-request results and the pure summary of one load level.

Definitions follow vLLM's benchmark (``vllm/benchmarks/serve.py``):

- TTFT: request start -> first chunk that carries text (content or reasoning).
- ITL: every gap between consecutive text chunks.
- E2E latency: request start -> last text chunk (the trailing usage chunk carries no token).
- TPOT: ``(e2e - ttft) / (output_tokens - 1)`` for requests with more than one output token.
- Output throughput: successful output tokens / level wall time; total adds input tokens.
- Peak output tok/s: the largest 1-second bucket of token arrivals (each text chunk carries
  ``output_tokens / chunks`` tokens, so coalesced chunks are not undercounted).
- Goodput: successful requests meeting every SLO (``ttft_ms``, ``tpot_ms``, ``e2e_ms``) per
  second; a request with one output token has TPOT 0 for this purpose, as in vLLM.
- Per-user tok/s: a user's decode speed, ``(output_tokens - 1) / (e2e - ttft)``.

``summarize`` never does I/O; ``RequestResult`` is produced by targets that never raise.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestResult:
    """What one request did. Times are seconds on the ``time.perf_counter`` clock."""

    success: bool
    start_s: float
    ttft_s: float = 0.0
    latency_s: float = 0.0
    itl_s: tuple[float, ...] = ()
    output_tokens: int = 0
    prompt_tokens: int = 0
    chunks: int = 0
    error: str = ""
    thinking: bool = False
    socket_events: int = 0
    tokens_from: str = "usage"  # how output_tokens was counted: usage, tokenize, words, chunks


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("n", "mean", "p50", "p90", "p99", "min", "max")}


@dataclass(frozen=True)
class LevelSummary:
    """One load level (a concurrency or a request rate) summarised."""

    concurrency: int | None
    request_rate: float | None
    duration_s: float
    success: int
    failed: int
    errors: dict[str, int]
    total_input_tokens: int
    total_output_tokens: int
    request_s: float
    output_tok_s: float
    total_tok_s: float
    peak_output_tok_s: float
    goodput_request_s: float | None
    ttft_ms: Stats
    tpot_ms: Stats
    itl_ms: Stats
    e2e_ms: Stats
    per_user_tok_s: Stats
    socket_events_per_answer: float = 0.0
    output_tokens_from: dict[str, int] = field(default_factory=dict)  # requests per source
    extra: dict[str, object] = field(default_factory=dict)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks, as ``numpy.percentile`` does by default."""
    if not sorted_values:
        return 0.0
    rank = (len(sorted_values) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    weight = rank - low
    return sorted_values[low] * (1 - weight) + sorted_values[high] * weight


def stats(values: list[float], scale: float = 1.0) -> Stats:
    """Distribution of ``values * scale``; an empty list gives zeros (vLLM does the same)."""
    ordered = sorted(v * scale for v in values)
    if not ordered:
        return Stats(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    return Stats(
        n=len(ordered),
        mean=sum(ordered) / len(ordered),
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p99=percentile(ordered, 99),
        min=ordered[0],
        max=ordered[-1],
    )


def tpot_s(result: RequestResult) -> float | None:
    if result.output_tokens <= 1:
        return None
    return (result.latency_s - result.ttft_s) / (result.output_tokens - 1)


def is_good(result: RequestResult, slo_ms: dict[str, float]) -> bool:
    measured_ms = {
        "ttft_ms": result.ttft_s * 1000,
        "tpot_ms": (tpot_s(result) or 0.0) * 1000,
        "e2e_ms": result.latency_s * 1000,
    }
    return all(measured_ms[name] <= limit for name, limit in slo_ms.items())


def peak_output_tok_s(results: list[RequestResult]) -> float:
    """Largest number of output tokens arriving within one 1-second bucket."""
    ok = [r for r in results if r.success and r.chunks > 0]
    if not ok:
        return 0.0
    origin = min(r.start_s for r in ok)
    buckets: defaultdict[int, float] = defaultdict(float)
    for r in ok:
        per_chunk = r.output_tokens / r.chunks
        t = r.start_s + r.ttft_s
        buckets[int(t - origin)] += per_chunk
        for gap in r.itl_s:
            t += gap
            buckets[int(t - origin)] += per_chunk
    return float(max(buckets.values()))


def summarize(
    results: list[RequestResult],
    duration_s: float,
    *,
    concurrency: int | None = None,
    request_rate: float | None = None,
    slo_ms: dict[str, float] | None = None,
) -> LevelSummary:
    """Summarise one level's results over its wall time ``duration_s``."""
    ok = [r for r in results if r.success]
    failed = [r for r in results if not r.success]
    duration_s = max(duration_s, 1e-9)
    out_tokens = sum(r.output_tokens for r in ok)
    in_tokens = sum(r.prompt_tokens for r in ok)
    tpots = [t for t in (tpot_s(r) for r in ok) if t is not None]
    per_user = [
        (r.output_tokens - 1) / (r.latency_s - r.ttft_s)
        for r in ok
        if r.output_tokens > 1 and r.latency_s > r.ttft_s
    ]
    good = sum(is_good(r, slo_ms) for r in ok) if slo_ms else None
    return LevelSummary(
        concurrency=concurrency,
        request_rate=request_rate,
        duration_s=duration_s,
        success=len(ok),
        failed=len(failed),
        errors=dict(Counter(r.error or "unknown" for r in failed)),
        total_input_tokens=in_tokens,
        total_output_tokens=out_tokens,
        request_s=len(ok) / duration_s,
        output_tok_s=out_tokens / duration_s,
        total_tok_s=(in_tokens + out_tokens) / duration_s,
        peak_output_tok_s=peak_output_tok_s(ok),
        goodput_request_s=None if good is None else good / duration_s,
        ttft_ms=stats([r.ttft_s for r in ok], 1000),
        tpot_ms=stats(tpots, 1000),
        itl_ms=stats([gap for r in ok for gap in r.itl_s], 1000),
        e2e_ms=stats([r.latency_s for r in ok], 1000),
        per_user_tok_s=stats(per_user),
        socket_events_per_answer=(sum(r.socket_events for r in ok) / len(ok)) if ok else 0.0,
        output_tokens_from=dict(Counter(r.tokens_from for r in ok)),
    )


def parse_slo(text: str | None) -> dict[str, float]:
    """``"ttft_ms=500,tpot_ms=50"`` -> ``{"ttft_ms": 500.0, "tpot_ms": 50.0}``."""
    if not text:
        return {}
    slo: dict[str, float] = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in ("ttft_ms", "tpot_ms", "e2e_ms") or not value:
            raise ValueError(f"bad SLO {item!r}: use ttft_ms=, tpot_ms= or e2e_ms=")
        slo[name] = float(value)
    return slo
