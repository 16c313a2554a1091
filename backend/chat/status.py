"""The "Status" command: the model server's health and load, from its /metrics."""

from __future__ import annotations

import chainlit as cl
import httpx

from backend.engine.status import read_status
from backend.server.client import ChatClient
from backend.server.metrics import fetch_server_metrics


async def status_lines(client: ChatClient) -> list[str]:
    config = client.config
    lines = [f"**Model server** `{config.vllm_base_url}`"]
    healthy = await client.healthy()
    lines.append(f"- Health: {'ok' if healthy else 'not answering'}")
    launcher = read_status(config)
    if launcher is not None:
        lines.append(
            f"- Launcher: {launcher.state}" + (f" ({launcher.detail})" if launcher.detail else "")
        )
        if launcher.unavailable:
            lines.append(f"- Not in this vLLM: {', '.join(launcher.unavailable)}")
    if not healthy:
        return lines
    try:
        info = await client.model_info()
        lines.append(
            f"- Model: `{info.id}`"
            + (f" (max context {info.max_model_len:,} tokens)" if info.max_model_len else "")
        )
        version = await client.http.get(f"{config.server_root}/version", timeout=3.0)
        if version.status_code == 200:
            lines.append(f"- vLLM version: {version.json().get('version', '?')}")
        metrics = await fetch_server_metrics(
            config.server_root, client=client.http, api_key=config.api_key
        )
    except (httpx.HTTPError, ValueError, Exception) as exc:  # status must never break the chat
        lines.append(f"- Metrics unavailable ({type(exc).__name__})")
        return lines
    lines.append(
        f"- Requests running: {metrics.num_requests_running:g}, "
        f"waiting: {metrics.num_requests_waiting:g}"
    )
    lines.append(f"- KV cache usage: {metrics.kv_cache_usage * 100:.1f}%")
    if metrics.prefix_cache_hit_rate is not None:
        lines.append(f"- Prefix cache hit rate: {metrics.prefix_cache_hit_rate * 100:.1f}%")
    lines.append(f"- Preemptions so far: {metrics.num_preemptions:g}")
    if info.max_model_len and (capacity := metrics.max_concurrency(info.max_model_len)):
        lines.append(
            f"- Capacity: {metrics.kv_cache_tokens:,} KV-cache tokens = {capacity:.1f} "
            f"requests of {info.max_model_len:,} tokens at once"
        )
    plan = launcher.plan if launcher else {}
    if plan.get("max_concurrency"):
        lines.append(f"- Planned at launch: {plan['max_concurrency']:.1f} full-length requests")
    return lines


async def show_status(client: ChatClient) -> None:
    await cl.Message(content="\n".join(await status_lines(client)), author="Status").send()
