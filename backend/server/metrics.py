"""The serving engine's own view of its load, read from vLLM's Prometheus ``/metrics``.

Contract:

- ``parse_metrics(text)`` is pure: Prometheus exposition text in, a frozen ``ServerMetrics`` out.
  Gauges are summed over engines (vLLM labels every series with ``model_name`` and ``engine``),
  except KV-cache usage, which is averaged (it is a fraction per engine). Missing series read
  as zero, or ``None`` where zero would be a lie (prefix-cache hit rate with no queries yet).
- ``fetch_server_metrics(root_url)`` GETs ``<root>/metrics`` and parses it; it raises
  ``httpx.HTTPError`` on transport or status errors so callers decide how to show "unknown".
- ``metrics_url(base_url)`` turns an OpenAI base URL (``http://host:port/v1``) into the
  metrics URL (``http://host:port/metrics``): vLLM serves ``/metrics`` at the root.

Metric names follow vLLM v1 (``vllm:kv_cache_usage_perc``); the pre-v1 name
``vllm:gpu_cache_usage_perc`` is read as a fallback.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from backend.config import server_root

_KV_USAGE_NAMES = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")


@dataclass(frozen=True)
class ServerMetrics:
    """One scrape of the engine's state; counters are totals since the engine started."""

    num_requests_running: int
    num_requests_waiting: int
    kv_cache_usage: float  # 0..1
    num_preemptions: int
    prefix_cache_hit_rate: float | None  # hits / queries in tokens, None before any query
    model_name: str | None
    prefix_cache_hits: int = 0
    prefix_cache_queries: int = 0
    kv_cache_tokens: int | None = None  # num_gpu_blocks x block_size, from cache_config_info
    generation_tokens: int = 0  # output tokens the engine has produced since it started

    def max_concurrency(self, max_model_len: int) -> float | None:
        """Full-length requests the KV cache holds at once (vLLM's "Maximum concurrency")."""
        if not self.kv_cache_tokens or max_model_len <= 0:
            return None
        return self.kv_cache_tokens / max_model_len


def metrics_url(base_url: str) -> str:
    """``http://host:port/v1`` (or the bare root) -> ``http://host:port/metrics``."""
    parts = urlsplit(server_root(base_url))
    path = parts.path
    if not path.endswith("/metrics"):
        path = f"{path}/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _collect(text: str) -> tuple[dict[str, list[float]], str | None, int | None]:
    """Sample values keyed by sample name (counters keep their ``_total``), the model name
    and the KV cache size in tokens (from the labels of ``vllm:cache_config_info``)."""
    values: dict[str, list[float]] = defaultdict(list)
    model_name = None
    kv_tokens = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name].append(sample.value)
            if model_name is None and sample.name.startswith("vllm:"):
                model_name = sample.labels.get("model_name")
            if sample.name == "vllm:cache_config_info":
                kv_tokens = _kv_tokens(sample.labels) or kv_tokens
    return values, model_name, kv_tokens


def _kv_tokens(labels: dict[str, str]) -> int | None:
    try:
        return int(labels["num_gpu_blocks"]) * int(labels["block_size"])
    except (KeyError, ValueError):
        return None


def _total(values: dict[str, list[float]], name: str) -> float:
    return sum(values.get(name, ()))


def parse_metrics(text: str) -> ServerMetrics:
    """Parse vLLM's ``/metrics`` text. Unknown or absent series read as zero."""
    values, model_name, kv_tokens = _collect(text)
    kv_samples = next((values[n] for n in _KV_USAGE_NAMES if values.get(n)), [])
    hits = _total(values, "vllm:prefix_cache_hits_total")
    queries = _total(values, "vllm:prefix_cache_queries_total")
    return ServerMetrics(
        num_requests_running=int(_total(values, "vllm:num_requests_running")),
        num_requests_waiting=int(_total(values, "vllm:num_requests_waiting")),
        kv_cache_usage=sum(kv_samples) / len(kv_samples) if kv_samples else 0.0,
        num_preemptions=int(_total(values, "vllm:num_preemptions_total")),
        prefix_cache_hit_rate=hits / queries if queries > 0 else None,
        model_name=model_name,
        prefix_cache_hits=int(hits),
        prefix_cache_queries=int(queries),
        kv_cache_tokens=kv_tokens,
        generation_tokens=int(_total(values, "vllm:generation_tokens_total")),
    )


async def fetch_server_metrics(
    root_url: str,
    *,
    client: httpx.AsyncClient | None = None,
    api_key: str | None = None,
    timeout_s: float = 5.0,
) -> ServerMetrics:
    """GET ``metrics_url(root_url)`` and parse it. Accepts the root or the ``/v1`` base URL."""
    url = metrics_url(root_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if client is None:
        async with httpx.AsyncClient(timeout=timeout_s) as own_client:
            response = await own_client.get(url, headers=headers)
    else:
        response = await client.get(url, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return parse_metrics(response.text)
