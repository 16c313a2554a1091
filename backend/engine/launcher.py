"""Launch vLLM for the chat: pick the model, size it, start it, watch it, stop it.

``python -m backend.engine serve`` (what start.sh runs) resolves the model (MODEL, or
the bundled demo model when MODEL=demo or MODEL cannot be loaded here), builds the
command line from the configuration, the planner's recommendation and the launch profile
(VLLM_PROFILE), starts ``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 (or
``vllm serve`` when a GPU launch runs several API-server processes, `api_server_count`),
shows its loading progress, waits on /health and stops it (and its workers) on exit.
This module builds the command; `backend.engine.plan` makes the launch decision once,
`backend.engine.process` runs it, and its state goes to .run/engine.json
(`backend.engine.status`) so the chat can say "the model is still loading".
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from backend.config import DEMO_MODEL_DIR, DEMO_SERVED_NAME, Config, process_environment
from backend.engine.profiles import (
    Device,
    fast_profile_notice,
    get_profile,
    planner_options,
    profile_args,
)

BUDGET_END_TEXT = (
    "Considering the limited time by the user, I have to give the solution based on the "
    "thinking directly now.\n</think>\n\n"
)
REASONING_CONFIG = {"reasoning_start_str": "<think>", "reasoning_end_str": BUDGET_END_TEXT}
DEMO_MAX_MODEL_LEN = 4096
CPU_GPU_MEMORY_UTILIZATION = 0.1  # on CPU: the share of host memory vLLM may take
HUB_HOST = "huggingface.co"
API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"  # one API-server process
SERVE_MODULE = "vllm.entrypoints.cli.main"  # `vllm serve`: runs --api-server-count of them
# vLLM's API server is one Python process that tokenizes, parses reasoning, detokenizes and
# streams every token. On an H200 (16 cores) it was the ceiling from 256 streams on: 4
# processes gave +62% output tokens/s at 256 streams (docs/profiles.md). One per 4 cores
# leaves the rest to the engine core and the chat.
CORES_PER_API_SERVER = 4
MAX_API_SERVERS = 4


@dataclass(frozen=True)
class ModelChoice:
    path: str
    served_name: str
    demo: bool
    reason: str = ""


def _hub_cached(config: Config, model: str) -> bool:
    hub = Path(config.hf_home) / "hub"
    return (hub / f"models--{model.replace('/', '--')}").is_dir()


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    try:
        httpx.head(f"https://{HUB_HOST}", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return True


def resolve_model(
    config: Config, *, hub_reachable: Callable[[], bool] = _hub_reachable
) -> ModelChoice:
    """MODEL when it can be loaded here, else the demo model (and why)."""
    demo = ModelChoice(str(DEMO_MODEL_DIR), DEMO_SERVED_NAME, True)
    if config.model == "demo":
        return demo
    served = config.served_model_name or config.model
    if Path(config.model).is_dir() or _hub_cached(config, config.model):
        return ModelChoice(config.model, served, False)
    if config.hub_offline or not hub_reachable():
        reason = f"{config.model} is not cached and the model hub is unreachable"
        return ModelChoice(demo.path, demo.served_name, True, reason)
    return ModelChoice(config.model, served, False)


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None and _gpu_memory_gib() is not None


def _gpu_memory_gib() -> float | None:
    from backend.planner.gpu import detect_gpu_memory_gib

    return detect_gpu_memory_gib()


def sizing(config: Config, choice: ModelChoice, device: Device) -> tuple[list[str], dict[str, Any]]:
    """Flags for context length, memory share and batch size, and the plan shown to users."""
    if device == "cpu":
        length = config.max_model_len or (DEMO_MAX_MODEL_LEN if choice.demo else 8192)
        util = config.gpu_memory_utilization or CPU_GPU_MEMORY_UTILIZATION
        flags = ["--max-model-len", str(length), "--gpu-memory-utilization", str(util)]
        kv_tokens = int(config.cpu_kvcache_space_gib * 2**30 / _cpu_kv_bytes_per_token(choice))
        return flags, {
            "device": "cpu",
            "max_model_len": length,
            "kv_cache_tokens": kv_tokens,
            "max_concurrency": round(kv_tokens / length, 2),
        }
    from backend.planner import load_model_spec, recommend_launch
    from backend.planner.gpu import detect_compute_capability
    from backend.planner.memory import weight_quantization

    gib = _gpu_memory_gib() or 0.0
    spec = load_model_spec(choice.path if choice.demo else config.model)
    profile = get_profile(config.profile)
    options = planner_options(profile, device="cuda")  # fp8 KV / fp8 weights change the sizes
    rec = recommend_launch(
        spec,
        gib,
        preferred_max_model_len=config.max_model_len,
        gpu_memory_utilization=config.gpu_memory_utilization or 0.9,
        **options,
    )
    flags = [
        "--max-model-len",
        str(rec.max_model_len),
        "--gpu-memory-utilization",
        str(rec.gpu_memory_utilization),
        "--max-num-seqs",
        str(config.max_num_seqs or rec.max_num_seqs),
    ]
    notice = fast_profile_notice(profile.name, detect_compute_capability())
    weights = weight_quantization(spec, options["quantization"])
    shown = {"device": "cuda", "gpu_memory_gib": gib, "notice": notice, "weights": weights}
    return flags, {**shown, **rec.to_dict()}


def _cpu_kv_bytes_per_token(choice: ModelChoice) -> int:
    config_path = Path(choice.path) / "config.json"
    try:
        cfg = json.loads(config_path.read_text())
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        dtype_bytes = 4 if cfg.get("torch_dtype") == "float32" else 2
        return cfg["num_hidden_layers"] * 2 * cfg["num_key_value_heads"] * head_dim * dtype_bytes
    except (OSError, ValueError, KeyError):
        return 36 * 2 * 8 * 128 * 2  # Qwen3-4B in bf16


def api_server_count(config: Config, device: Device, cores: int | None = None) -> int:
    """How many API-server processes vLLM runs: VLLM_API_SERVERS, else one per
    `CORES_PER_API_SERVER` cores, at most `MAX_API_SERVERS`. Always one on CPU, where
    vLLM's own threads need the cores (and vLLM's CPU build has no working `vllm serve`)."""
    if device == "cpu":
        return 1
    if config.api_servers:
        return config.api_servers
    cores = cores or _usable_cores()
    return max(1, min(MAX_API_SERVERS, cores // CORES_PER_API_SERVER))


def _usable_cores() -> int:
    """The cores this process may run on (a container's cpuset, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def engine_program(python: str, model: str, several_api_servers: bool) -> list[str]:
    """How vLLM is started, up to its flags: ``vllm serve MODEL`` runs several API-server
    processes; the api_server module accepts --api-server-count but runs one (0.26.0)."""
    if several_api_servers:
        return [python, "-m", SERVE_MODULE, "serve", model]
    return [python, "-m", API_SERVER_MODULE, "--model", model]


def command_head(command: list[str] | tuple[str, ...]) -> int:
    """How many leading arguments are the program, not flags: ``python -m module`` (3), or
    ``python -m vllm.entrypoints.cli.main serve MODEL`` (5)."""
    return 5 if len(command) > 2 and command[2] == SERVE_MODULE else 3


def build_command(
    config: Config,
    choice: ModelChoice,
    device: Device,
    sizing_flags: list[str],
    api_servers: int = 1,
) -> list[str]:
    """The vLLM command line. Later flags win in vLLM's parser: profile over planner.
    With ``api_servers`` above one: ``vllm serve MODEL ... --api-server-count N``."""
    url = urlsplit(config.vllm_base_url)
    several = api_servers > 1
    cmd = [
        *engine_program(config.engine_python, choice.path, several),
        "--served-model-name",
        choice.served_name,
        "--host",
        "127.0.0.1",
        "--port",
        str(url.port or 8001),
        "--reasoning-parser",
        "qwen3",
        "--reasoning-config",
        json.dumps(REASONING_CONFIG),
        *sizing_flags,
        *profile_args(get_profile(config.profile), device=device),
    ]
    if several:
        cmd += ["--api-server-count", str(api_servers)]
    if config.vllm_api_key:
        # One argument: a key that starts with "-" (1 in 64 of start.sh's) is not an option.
        cmd.append(f"--api-key={config.vllm_api_key}")
    return cmd


# vLLM serves 128x128 block-FP8 checkpoints (Qwen/Qwen3-4B-FP8) with DeepGEMM on Hopper when
# it is installed, and compiles its kernels before the server answers: measured on an H200
# with vLLM 0.26.0, half of 1,103 warm-up steps after 225 s. Without it vLLM uses CUTLASS's
# block-scaled kernels and starts in the usual time. Set VLLM_USE_DEEP_GEMM=1 to choose it.
DEEP_GEMM_OFF = {"VLLM_USE_DEEP_GEMM": "0"}


def engine_env(config: Config, device: Device, weights: str | None = None) -> dict[str, str]:
    """vLLM's environment; ``weights`` is the plan's weight format (``fp8-block``...)."""
    env = process_environment()
    if device == "cuda" and weights == "fp8-block":
        for key, value in DEEP_GEMM_OFF.items():
            env.setdefault(key, value)
    if device == "cpu":
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", f"{config.cpu_kvcache_space_gib:g}")
        if (os.cpu_count() or 1) <= 4:
            # vLLM's CPU threads spin on every core they get; on a small machine that
            # starves the chat (and the browser) while a long answer streams. Keep one.
            env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")
    env["HF_HUB_OFFLINE"] = env.get("HF_HUB_OFFLINE", "0")
    env.pop("VLLM_API_KEY", None)  # passed as --api-key; vLLM would also read it
    return env
