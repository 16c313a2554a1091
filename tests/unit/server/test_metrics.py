"""parse_metrics / fetch_server_metrics / metrics_url against vLLM's exposition format."""

import httpx
import pytest

from backend.config import ROOT  # noqa: E402
from backend.server.metrics import ServerMetrics, fetch_server_metrics, metrics_url, parse_metrics

SAMPLE = (ROOT / "tests" / "support" / "vllm_metrics_sample.txt").read_text()


def test_parses_a_vllm_sample():
    assert parse_metrics(SAMPLE) == ServerMetrics(
        num_requests_running=3,
        num_requests_waiting=2,
        kv_cache_usage=0.4375,
        num_preemptions=4,
        prefix_cache_hit_rate=0.25,
        model_name="Qwen/Qwen3-0.6B",
        prefix_cache_hits=10240,
        prefix_cache_queries=40960,
        kv_cache_tokens=7281 * 16,
        generation_tokens=20480,
    )


def test_gauges_sum_and_kv_usage_averages_over_engines():
    text = "\n".join(
        [
            "# TYPE vllm:num_requests_running gauge",
            'vllm:num_requests_running{engine="0",model_name="m"} 2.0',
            'vllm:num_requests_running{engine="1",model_name="m"} 5.0',
            "# TYPE vllm:kv_cache_usage_perc gauge",
            'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.2',
            'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.6',
            "",
        ]
    )
    parsed = parse_metrics(text)
    assert parsed.num_requests_running == 7
    assert parsed.kv_cache_usage == pytest.approx(0.4)


def test_older_names_and_missing_series():
    text = "# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc 0.9\n"
    parsed = parse_metrics(text)
    assert parsed.kv_cache_usage == pytest.approx(0.9)
    assert parsed.prefix_cache_hit_rate is None  # no queries yet: unknown, not 0%
    assert (parsed.num_requests_running, parsed.num_preemptions, parsed.model_name) == (0, 0, None)


def test_empty_text_is_an_idle_unknown_server():
    assert parse_metrics("") == ServerMetrics(0, 0, 0.0, 0, None, None)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8001/v1", "http://127.0.0.1:8001/metrics"),
        ("http://127.0.0.1:8001/v1/", "http://127.0.0.1:8001/metrics"),
        ("http://host:9/", "http://host:9/metrics"),
        ("http://host:9/proxy/v1", "http://host:9/proxy/metrics"),
        ("http://host:9/metrics", "http://host:9/metrics"),
    ],
)
def test_metrics_url(base, expected):
    assert metrics_url(base) == expected


async def test_fetch_uses_the_root_and_the_api_key():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=SAMPLE)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        metrics = await fetch_server_metrics("http://x:1/v1", client=client, api_key="k")
    assert metrics.num_requests_waiting == 2
    assert str(seen[0].url) == "http://x:1/metrics"
    assert seen[0].headers["authorization"] == "Bearer k"


async def test_fetch_raises_on_http_errors():
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.HTTPStatusError):
            await fetch_server_metrics("http://x:1", client=client)


def test_kv_cache_tokens_and_max_concurrency_from_cache_config_info():
    from backend.server.metrics import parse_metrics

    text = (
        "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
        "# TYPE vllm:cache_config_info gauge\n"
        'vllm:cache_config_info{block_size="16",num_gpu_blocks="27906"} 1.0\n'
    )
    metrics = parse_metrics(text)
    assert metrics.kv_cache_tokens == 446_496
    assert round(metrics.max_concurrency(10_000), 2) == 44.65
    assert parse_metrics("").max_concurrency(10_000) is None
