"""What the GPU measurements run: configurations (vLLM flag sets) and plans (load shapes).

A config is ``defaults`` (only the flags every run needs), a profile of backend/engine/profiles.py
(its GPU flags), or a variant below. A plan fixes the endpoint, the memory settings and the
loads; ``per_config`` gives a config its own loads where the plan's would not fit the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.engine.profiles import get_profile, profile_args

PORT = 8001
BASE_URL = f"http://127.0.0.1:{PORT}/v1"
VARIANTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "throughput-fp8kv": ("throughput", ("--kv-cache-dtype", "fp8")),
    "throughput-bt32k": ("throughput", ("--max-num-batched-tokens", "32768")),
}


@dataclass(frozen=True)
class Load:
    tool: str  # "sharded" (bench.sharded_load), "cli" (backend.loadtest), "vllm-bench"
    levels: str  # streams:requests,...
    input_len: int = 512
    output_len: int = 256
    max_shards: int = 8  # sharded only; 1 = the load tester's single client process


@dataclass(frozen=True)
class Plan:
    endpoint: str
    utilization: float
    max_model_len: int
    loads: tuple[Load, ...]
    think_ratio: float = 0.0
    level_cap_s: float = 45.0  # stop issuing new requests after this long in a level
    per_config: dict[str, tuple[Load, ...]] = field(default_factory=dict)


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
}


def config_flags(name: str, device: str = "cuda") -> list[str]:
    if name == "defaults":
        return []
    base, extra = VARIANTS.get(name, (name, ()))
    return [*profile_args(get_profile(base), device=device), *extra]


def server_command(python: str, model: str, plan: Plan, flags: list[str], device: str):
    memory = ["--gpu-memory-utilization", str(plan.utilization)] if device == "cuda" else []
    return [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--load-format",
        "dummy",
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
