"""``python -m backend.loadtest``: arguments, then one level after the other, then the report."""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backend.auth.client import LoginError
from backend.config import Config, ConfigError
from backend.loadtest import report
from backend.loadtest.app_login import app_cookie
from backend.loadtest.direct import first_model_id, make_client
from backend.loadtest.metrics import parse_slo, summarize
from backend.loadtest.runner import ServerSampler
from backend.loadtest.server_view import summarize_server
from backend.loadtest.shards import Opener, run_level, slice_level
from backend.loadtest.targets import TargetSpec
from backend.loadtest.tokenizer import Tokenizer, api_url_of, root_of
from backend.loadtest.workload import arrival_offsets_s, build_plan


def _numbers(kind: type) -> Any:
    return lambda text: [kind(part) for part in text.split(",") if part.strip()]


# The direct target is greedy; a chat left to its own settings samples (top-k/top-p), so the
# halves would ask for different work, and on vLLM the app half alone can meet the sampler's
# first-use kernel compile: a multi-second stall of every stream (docs/performance.md).
SAMPLING_MISMATCH = (
    "--compare with --app-keep-settings would compare a greedy direct half (temperature 0, "
    "max tokens --output-len) with the chat's own sampling settings, so the two halves would "
    "not ask the model for the same work; drop --app-keep-settings, or use bench.relay_bench, "
    "whose direct half sends the chat's settings"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m backend.loadtest", description=__doc__)
    p.add_argument("--target", choices=("direct", "app"), default="direct")
    p.add_argument("--compare", action="store_true", help="run each level direct AND via app")
    p.add_argument("--endpoint", choices=("chat", "completions"), default="chat")
    p.add_argument("--base-url", default="http://127.0.0.1:8001/v1")
    p.add_argument("--app-url", default="http://127.0.0.1:8000")
    p.add_argument("--app-think-command", default="Think", help="command for thinking requests")
    p.add_argument("--user", default="", help="app: account to sign in as (chat with accounts)")
    p.add_argument(
        "--password", default=None, help="app: the account's password (default: LOADTEST_PASSWORD)"
    )
    p.add_argument(
        "--app-keep-settings",
        action="store_true",
        help="app: leave the chat's settings panel as it is (default: set max tokens to "
        "--output-len and temperature 0 first, as the direct target asks); not with --compare",
    )
    p.add_argument(
        "--app-turns",
        type=int,
        default=1,
        help="app: answers per chat session, a conversation that long (default 1: a new "
        "tab per request; more: the prompts carry the earlier answers)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="client processes per level (the streams are spread over them, one merged "
        "summary); one process parses ~8k chunks/s, so use ~1 per 16 streams on a fast GPU",
    )
    p.add_argument("--model", default=None, help="default: first id from /v1/models")
    p.add_argument("--api-key", default=None, help="the model server's (default: VLLM_API_KEY)")
    p.add_argument("--concurrency", type=_numbers(int), default=None, help="e.g. 1,8,64,256")
    p.add_argument("--request-rate", type=_numbers(float), default=None, help="req/s, e.g. 1,4")
    p.add_argument("--burstiness", type=float, default=1.0, help="gamma shape; 1 = Poisson")
    p.add_argument("--max-concurrency", type=int, default=None, help="cap for --request-rate")
    p.add_argument("--num-requests", type=int, default=None, help="per level (default 100)")
    p.add_argument("--duration", type=float, default=None, help="seconds per level")
    p.add_argument("--warmup", type=int, default=0, help="requests per level, not counted")
    p.add_argument("--input-len", type=int, default=256)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--think-ratio", type=float, default=0.0, help="chat: share that thinks")
    p.add_argument("--slo", default=None, help="e.g. ttft_ms=500,tpot_ms=50")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="prompt and arrival seed (default: a new one per run, so a warm server's "
        "prefix cache never sees a repeated prompt; the JSON records it)",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    p.add_argument("--metrics-interval", type=float, default=0.5, help="/metrics scrape period")
    p.add_argument("--json", dest="json_path", default=None)
    p.add_argument("--plot", dest="plot_path", default=None)
    args = p.parse_args(argv)
    if args.concurrency and args.request_rate:
        p.error("choose --concurrency or --request-rate")
    if not args.concurrency and not args.request_rate:
        args.concurrency = [1]
    if not 0.0 <= args.think_ratio <= 1.0 or args.burstiness <= 0:
        p.error("--think-ratio must be in [0, 1] and --burstiness > 0")
    if args.processes < 1:
        p.error("--processes must be at least 1")
    if args.compare and args.app_keep_settings:
        p.error(SAMPLING_MISMATCH)
    args.slo_ms = parse_slo(args.slo)
    try:  # VLLM_API_KEY and LOADTEST_PASSWORD, from the environment or .env
        settings = Config.from_env()
    except ConfigError as exc:
        p.error(str(exc))
    args.api_key = args.api_key or settings.vllm_api_key or None
    if args.password is None:
        args.password = settings.loadtest_password
    return args


@dataclass(frozen=True)
class LevelSpec:
    concurrency: int | None
    request_rate: float | None

    def count(self, args: argparse.Namespace) -> int:
        if args.num_requests:
            return args.num_requests
        if args.duration is None:
            return 100
        if self.request_rate is not None:  # the schedule itself ends at the duration
            return max(1, math.ceil(self.request_rate * args.duration))
        return min(max(100, 20 * (self.concurrency or 1)), 5000)  # pool; the clock ends first

    def name(self, target: str, processes: int) -> str:
        level = f"c={self.concurrency}" if self.concurrency else f"{self.request_rate:g} req/s"
        return f"{target} {level}" + (f" ({processes} processes)" if processes > 1 else "")


class Runner:
    opener: Opener | None = None  # a bench may open its own target (one process only)
    app_cookie: str | None = None  # the app target's login (None: the local user's)

    def __init__(self, args: argparse.Namespace, model: str | None, http: httpx.AsyncClient):
        self.args, self.model, self.console = args, model, Console(stderr=True)
        self.tokenizer = Tokenizer(args.base_url, model, args.endpoint, http, args.api_key)

    def target(self, name: str, pool: int) -> TargetSpec:
        a = self.args
        return TargetSpec(
            name="app" if name == "app" else "direct",
            base_url=a.base_url,
            api_key=a.api_key,
            model=self.model,
            endpoint=a.endpoint,
            app_url=a.app_url,
            think_command=a.app_think_command,
            timeout_s=a.timeout,
            pool=pool,
            app_sets_lengths=not a.app_keep_settings,
            app_cookie=self.app_cookie,
            app_turns=a.app_turns,
        )

    async def level(self, level: LevelSpec, target_name: str, seed: int) -> dict[str, Any]:
        a = self.args
        plan = await build_plan(
            level.count(a) + a.warmup,
            input_len=a.input_len,
            output_len=a.output_len,
            think_ratio=a.think_ratio if a.endpoint == "chat" else 0.0,
            seed=seed,
            tokenizer=self.tokenizer,
        )
        warm, specs = plan.specs[: a.warmup], plan.specs[a.warmup :]
        offsets = None
        if level.concurrency is None:
            rng = random.Random(seed)
            offsets = arrival_offsets_s(len(specs), level.request_rate or 1.0, a.burstiness, rng)
        slices = slice_level(
            specs,
            a.processes,
            warmup=warm,
            concurrency=level.concurrency,
            offsets_s=offsets,
            max_concurrency=a.max_concurrency,
            duration_s=a.duration,
        )
        pool = level.concurrency or a.max_concurrency or 1024
        target = self.target(target_name, max(pool // len(slices), 1) + 1)
        sampler = ServerSampler(root_of(a.base_url), a.api_key, a.metrics_interval)
        with _progress(self.console) as progress:
            task = progress.add_task(level.name(target_name, len(slices)), total=len(specs))
            advance = lambda n: progress.advance(task, n)  # noqa: E731
            run = await run_level(target, slices, sampler, advance, opener=self.opener)
        summary = summarize(
            list(run.results),
            run.elapsed_s,
            concurrency=level.concurrency,
            request_rate=level.request_rate,
            slo_ms=a.slo_ms or None,
        )
        server = summarize_server(sampler.samples, sampler.times_s)
        row = report.level_row(
            report.Level(target_name, a.endpoint, summary, server, plan.exact, plan.note)
        )
        row.update(processes=len(slices), warmup=len(warm), input_len=a.input_len)
        row.update(output_len=a.output_len, think_ratio=a.think_ratio)
        return row


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


async def resolve_model(args: argparse.Namespace) -> str | None:
    if args.model:
        return args.model
    client = make_client(api_url_of(args.base_url), args.api_key, 1, 30.0)
    try:
        return await first_model_id(client)
    except Exception:
        if args.target == "direct" or args.compare:
            raise
        return None  # the app target does not need it
    finally:
        await client.close()


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    model = await resolve_model(args)
    levels = [LevelSpec(c, None) for c in args.concurrency or []] + [
        LevelSpec(None, r) for r in args.request_rate or []
    ]
    targets = ["direct", "app"] if args.compare else [args.target]
    rows: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=30.0) as http:
        runner = Runner(args, model, http)
        if "app" in targets:  # signed in once, before anything is timed
            runner.app_cookie = await app_cookie(args.app_url, args.user, args.password)
        for i, level in enumerate(levels):
            for j, target in enumerate(targets):  # a fresh seed: no prompt is ever sent twice
                rows.append(await runner.level(level, target, args.seed + 7919 * i + 104729 * j))
            if args.compare:
                rows[-1]["comparison"] = report.compare(rows[-2], rows[-1])
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2**31)
    try:
        rows = asyncio.run(run(args))
    except LoginError as exc:
        sys.stderr.write(f"python -m backend.loadtest: {exc}\n")
        return 2
    for row in rows:
        row.setdefault("seed", args.seed)
    report.print_table(rows)
    if args.json_path:
        report.write_json(rows, args.json_path)
    if args.plot_path:
        report.plot(rows, args.plot_path)
    return 0 if all(r["success"] for r in rows) else 1
