"""Queue a burst of chat requests on vLLM at once and check that every one completes.

All ``--requests`` (default 500) streamed chat completions are opened together through the
chat's own `ChatClient` (its timeouts, its pooled HTTP client), so vLLM must queue most of
them; vLLM's ``/metrics`` is sampled meanwhile for the running and waiting counts.

    VLLM_BASE_URL=http://127.0.0.1:8001/v1 VLLM_API_KEY=... \\
        .venv/bin/python -m bench.queue_burst --requests 500 --out burst.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from backend.chat.settings import SamplingSettings
from backend.config import Config
from backend.server.client import ChatClient, Finish, ServerError
from backend.server.reasoning import Segment

ROOT = Path(__file__).resolve().parent.parent


GREEDY = SamplingSettings(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=256)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    elapsed_s: float
    correct: bool = False
    finish: str | None = None
    error: str = ""


async def one_request(client: ChatClient, n: int, rng: random.Random) -> Outcome:
    a, b = rng.randint(10, 499), rng.randint(10, 499)
    messages = [{"role": "user", "content": f"What is {a} + {b}?"}]
    started = time.monotonic()
    answer, finish = "", None
    try:
        async with client.stream(messages, GREEDY, thinking=n % 2 == 0) as events:
            async for event in events:
                if isinstance(event, Segment) and event.kind == "answer":
                    answer += event.text
                elif isinstance(event, Finish):
                    finish = event.reason
    except ServerError as exc:
        return Outcome(False, time.monotonic() - started, error=str(exc))
    elapsed_s = time.monotonic() - started
    return Outcome(finish is not None, elapsed_s, str(a + b) in answer, finish)


async def sample_queue(config: Config, peaks: dict, done: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        while not done.is_set():
            try:
                text = (await http.get(f"{config.server_root}/metrics")).text
            except httpx.HTTPError:
                text = ""
            for line in text.splitlines():
                for name in ("num_requests_running", "num_requests_waiting"):
                    if line.startswith(f"vllm:{name}"):
                        peaks[name] = max(peaks.get(name, 0), float(line.rsplit(" ", 1)[1]))
            try:
                await asyncio.wait_for(done.wait(), 0.5)
            except asyncio.TimeoutError:
                pass


async def burst(requests: int, seed: int) -> dict:
    config = Config.from_env().model_copy(update={"stream_timeout_s": 1800.0, "max_retries": 0})
    client = ChatClient(config)
    await client.model_info()
    rng = random.Random(seed)
    peaks: dict[str, float] = {}
    done = asyncio.Event()
    sampler = asyncio.create_task(sample_queue(config, peaks, done))
    started = time.monotonic()
    outcomes = await asyncio.gather(*(one_request(client, n, rng) for n in range(requests)))
    wall_s = time.monotonic() - started
    done.set()
    await sampler
    latencies = sorted(o.elapsed_s for o in outcomes)
    errors = [o.error for o in outcomes if not o.ok]
    return {
        "requests": requests,
        "completed": sum(o.ok for o in outcomes),
        "errors": len(errors),
        "error_samples": errors[:5],
        "finish_reasons": {r: sum(o.finish == r for o in outcomes) for r in ("stop", "length")},
        "correct": sum(o.correct for o in outcomes),
        "wall_s": round(wall_s, 1),
        "latency_p50_s": round(latencies[len(latencies) // 2], 1),
        "latency_max_s": round(latencies[-1], 1),
        "peak_running": peaks.get("num_requests_running"),
        "peak_waiting": peaks.get("num_requests_waiting"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="burst.json")
    args = parser.parse_args()
    result = asyncio.run(burst(args.requests, args.seed))
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 and result["completed"] == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
