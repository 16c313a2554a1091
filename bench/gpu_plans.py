"""What the GPU measurements run: configurations (vLLM flag sets) and plans (load shapes).

A config is ``defaults`` (only the flags every run needs), a profile of
backend/engine/profiles.py (its GPU flags), or a variant below: a base (``defaults`` or a
profile), extra flags, and which weights it serves (``dummy``: the bf16 architecture with
random weights; ``fp8-block``: a random-weight checkpoint on disk in Qwen/Qwen3-4B-FP8's
format, made by bench/fp8_checkpoint.py). A plan fixes the endpoint, the memory settings and
the loads; ``per_config`` gives a config its own loads where the plan's would not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backend.engine.launcher import engine_program
from backend.engine.profiles import get_profile, profile_args

PORT = 8001
BASE_URL = f"http://127.0.0.1:{PORT}/v1"
FP8_KV = ("--kv-cache-dtype", "fp8")
ONLINE_FP8 = ("--quantization", "fp8")
API4 = ("--api-server-count", "4")
# name: (base, extra flags, weights)
VARIANTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "throughput-fp8kv": ("throughput", FP8_KV, "dummy"),
    "throughput-bt32k": ("throughput", ("--max-num-batched-tokens", "32768"), "dummy"),
    # what the launcher starts on an H200 today: balanced + the planner's --max-num-seqs 256
    "planner-balanced": ("balanced", ("--max-num-seqs", "256"), "dummy"),
    "fp8-block": ("defaults", (), "fp8-block"),
    "fp8-online": ("defaults", ONLINE_FP8, "dummy"),
    "fp8-kv": ("defaults", FP8_KV, "dummy"),
    "fp8-block-kv": ("defaults", FP8_KV, "fp8-block"),
    "fp8-online-kv": ("defaults", (*ONLINE_FP8, *FP8_KV), "dummy"),
    "fp8-online-perf": ("defaults", (*ONLINE_FP8, "--performance-mode", "throughput"), "dummy"),
    "seqs-512": ("defaults", ("--max-num-seqs", "512"), "dummy"),
    "perf-throughput": ("defaults", ("--performance-mode", "throughput"), "dummy"),
    "perf-interactivity": ("defaults", ("--performance-mode", "interactivity"), "dummy"),
    "fp8-block-interactivity": ("defaults", ("--performance-mode", "interactivity"), "fp8-block"),
    # the serving front end over several processes (vLLM's API server is one Python process
    # that tokenizes, detokenizes, parses reasoning and streams every token)
    "api4": ("defaults", API4, "dummy"),
    "fp8-online-api4": ("defaults", (*ONLINE_FP8, *API4), "dummy"),
    "fp8-online-kv-api4": ("defaults", (*ONLINE_FP8, *FP8_KV, *API4), "dummy"),
}


@dataclass(frozen=True)
class Load:
    tool: str  # "sharded" (backend.loadtest --processes), "cli" (one process), "vllm-bench"
    levels: str  # streams:requests,...
    input_len: int = 512
    output_len: int = 256
    max_shards: int = 8  # sharded only: at most this many client processes (1 = one process)
    warmup: bool = True  # sharded only: one full-length request per stream first, not counted
    endpoint: str | None = None  # the plan's unless set ("vllm-bench" is always completions)


@dataclass(frozen=True)
class Plan:
    endpoint: str
    utilization: float
    max_model_len: int
    loads: tuple[Load, ...]
    think_ratio: float = 0.0
    level_cap_s: float = 45.0  # stop issuing new requests after this long in a level
    per_config: dict[str, tuple[Load, ...]] = field(default_factory=dict)


ENGINE_LEVELS = "1:3,64:128,256:512,512:1024"
ENGINE_RERUN = "1:3,256:512,512:1024"
ENGINE_LOADS = (Load("sharded", ENGINE_LEVELS), Load("sharded", ENGINE_RERUN, warmup=False))
# the load tester against `vllm bench serve` on the same server: 256 streams, completions,
# twice each, so the comparison carries its own run-to-run spread
CLIENT_CHECK = tuple(
    load
    for _ in range(2)
    for load in (
        Load("vllm-bench", "256:512"),
        Load("sharded", "256:512", endpoint="completions"),
    )
)

PLANS = {
    "profiles": Plan(
        "chat",
        0.9,
        10000,
        (Load("sharded", "1:8,64:256,256:768"),),
        think_ratio=0.5,
        level_cap_s=30.0,
        # max-num-seqs 16 and 8 turn 256 streams into a queue: fewer requests, same shape
        per_config={
            "low-latency": (Load("sharded", "1:8,64:256,256:512"),),
            "low-memory": (Load("sharded", "1:4,64:64"),),
        },
    ),
    # the naive-client baseline's shape, then the same server through three clients
    "baseline": Plan(
        "completions",
        0.5,
        10000,
        (
            Load("sharded", "1:4", 128, 512),
            Load("sharded", "32:128,128:512,256:768"),
            Load("vllm-bench", "64:256"),
            Load("sharded", "64:256", max_shards=1),
            Load("sharded", "64:256"),
            Load("vllm-bench", "256:768"),
            Load("sharded", "256:768", max_shards=1),
            Load("cli", "64:256"),
        ),
    ),
    # a minute's check of the whole path on any machine (CPU dry runs included)
    "smoke": Plan(
        "chat", 0.9, 2048, (Load("sharded", "1:2,8:16", 64, 16), Load("cli", "4:8", 64, 16))
    ),
    "smoke-completions": Plan("completions", 0.9, 2048, (Load("vllm-bench", "4:8", 64, 16),)),
    # engine levers (FP8 weights, FP8 KV, batch shape): two runs on one server, 2x streams
    # requests per level (3 for one stream); the second run skips the 64-stream level and the
    # warm-up (the first run warmed those shapes), so a config fits in ~3 minutes of GPU time
    "engine": Plan(
        "chat",
        0.9,
        10000,
        ENGINE_LOADS,
        think_ratio=0.5,
        level_cap_s=40.0,
        per_config={"defaults": (*ENGINE_LOADS, *CLIENT_CHECK)},
    ),
    # the same loads without the client check: configs compared with a same-day defaults run
    "levers": Plan("chat", 0.9, 10000, ENGINE_LOADS, think_ratio=0.5, level_cap_s=40.0),
    # several API servers vs one: 256 streams twice on each server, starts interleaved by the
    # caller (the spread between starts of the same flags is larger than between runs)
    "front": Plan(
        "chat",
        0.9,
        10000,
        (Load("sharded", "1:3,256:512,512:1024"), Load("sharded", "256:512", warmup=False)),
        think_ratio=0.5,
        level_cap_s=40.0,
    ),
    "engine-smoke": Plan(
        "chat", 0.9, 2048, (Load("sharded", "1:2,4:8", 64, 16), Load("sharded", "1:2", 64, 16))
    ),
}


def config_flags(name: str, device: str = "cuda") -> list[str]:
    if name == "defaults":
        return []
    base, extra, _ = VARIANTS.get(name, (name, (), "dummy"))
    profile = [] if base == "defaults" else profile_args(get_profile(base), device=device)
    return [*profile, *extra]


def config_weights(name: str) -> str:
    """``dummy`` (random bf16 weights in memory) or ``fp8-block`` (the checkpoint on disk)."""
    return VARIANTS[name][2] if name in VARIANTS else "dummy"


def server_command(python: str, model: str, plan: Plan, flags: list[str], device: str):
    """The server for ``model``; a directory holding safetensors loads them, else dummy."""
    memory = ["--gpu-memory-utilization", str(plan.utilization)] if device == "cuda" else []
    on_disk = any(Path(model).glob("*.safetensors"))
    return [
        *engine_program(python, model, several_api_servers="--api-server-count" in flags),
        *(() if on_disk else ("--load-format", "dummy")),
        "--served-model-name",
        "q",
        "--host",
        "127.0.0.1",
        "--port",
        str(PORT),
        "--reasoning-parser",
        "qwen3",
        "--max-model-len",
        str(plan.max_model_len),
        *memory,
        *flags,
    ]
