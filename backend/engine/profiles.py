"""Launch profiles: named sets of `vllm serve` flags, chosen with VLLM_PROFILE.

Contract: `get_profile(name)` returns a frozen `Profile` or raises ValueError naming the
valid ones (backend.config checks VLLM_PROFILE against `PROFILES` when it is read);
`profile_args(profile, device=...)` returns the flags for "cuda" or "cpu" (CUDA graphs,
fp8 KV cache and async scheduling are GPU-only). Every flag is accepted by the real
parser of vLLM 0.32.0 (tests/unit/engine/test_profiles.py checks it) and exists in 0.26.0
too; a flag an older engine lacks is left out at start (backend.engine.flags).
Later flags win in vLLM's parser, so the launcher puts these first and its own
planner-derived --gpu-memory-utilization / --max-model-len / --max-num-seqs after them.

Version notes: `--cuda-graph-sizes` is gone in 0.32.0 (use `--max-cudagraph-capture-size`);
`--enforce-eager` is a switch, never `--enforce-eager False`; blog-recipe flags such as
`--batching-strategy`, `--scheduler-delay-factor` and `--num-swapped-blocks` are rejected,
and `--num-gpu-blocks N` is worse: argparse reads it as `--num-gpu-blocks-override N`,
silently capping the KV cache at N blocks. (`--enforce-eager False` parses too, with
"False" taken as the model name.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Device = Literal["cuda", "cpu"]
DEFAULT_PROFILE = "balanced"
FORBIDDEN_FLAGS = (
    "--batching-strategy",
    "--scheduler-delay-factor",
    "--num-gpu-blocks",
    "--num-swapped-blocks",
)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    flags: tuple[str, ...]
    cuda_flags: tuple[str, ...] = ()  # added only on GPUs


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="balanced",
            description="Default for a chat: prefix caching for shared system prompts and "
            "history, chunked prefill so long prompts do not stall streaming replies.",
            flags=(
                "--enable-prefix-caching",
                "--enable-chunked-prefill",
                "--max-num-batched-tokens",
                "4096",
            ),
        ),
        Profile(
            name="throughput",
            description="Most tokens per second across many users: big batches and prefill "
            "chunks; each user's tokens arrive a little slower under load.",
            flags=(
                "--enable-prefix-caching",
                "--enable-chunked-prefill",
                "--max-num-seqs",
                "256",
                "--max-num-batched-tokens",
                "16384",
            ),
            cuda_flags=("--async-scheduling",),
        ),
        Profile(
            name="low-latency",
            description="Fastest first token and steady streaming for a few users: small "
            "batches and prefill chunks, CUDA graphs only for the small batches it runs.",
            flags=(
                "--enable-prefix-caching",
                "--enable-chunked-prefill",
                "--max-num-seqs",
                "16",
                "--max-num-batched-tokens",
                "2048",
            ),
            cuda_flags=("--async-scheduling", "--max-cudagraph-capture-size", "16"),
        ),
        Profile(
            name="low-memory",
            description="Smallest footprint (shared or small GPUs): fp8 KV cache doubles "
            "the tokens per GiB, no CUDA graphs (~1 GiB saved, slower decode), few sequences.",
            flags=(
                "--enable-prefix-caching",
                "--enable-chunked-prefill",
                "--max-num-seqs",
                "8",
                "--max-num-batched-tokens",
                "1024",
            ),
            cuda_flags=("--kv-cache-dtype", "fp8", "--enforce-eager"),
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(PROFILES)
        raise ValueError(f"unknown vLLM profile {name!r}; valid profiles: {valid}") from None


def profile_args(profile: Profile, *, device: Device) -> list[str]:
    if device not in ("cuda", "cpu"):
        raise ValueError(f"device must be 'cuda' or 'cpu', not {device!r}")
    return [*profile.flags, *(profile.cuda_flags if device == "cuda" else ())]
