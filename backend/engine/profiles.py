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
from typing import Literal, TypedDict

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
            name="fast",
            description="FP8 weights on GPUs with FP8 units (compute capability 8.9+: L4, "
            "L40S, H100, H200): vLLM quantises the linear layers to FP8 as it loads them. "
            "On an H200 with the launcher's 4 API-server processes: +28% tokens/s for one "
            "user, +16% at 256 users (+88% over vLLM's defaults), p99 TTFT -30%; a small "
            "accuracy cost (docs/profiles.md).",
            flags=("--enable-prefix-caching", "--enable-chunked-prefill"),
            cuda_flags=("--quantization", "fp8"),
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


def flag_value(flags: list[str] | tuple[str, ...], name: str) -> str | None:
    """The value after the last ``name`` in a flag list (later flags win in vLLM's parser)."""
    values = [flags[i + 1] for i, flag in enumerate(flags[:-1]) if flag == name]
    return values[-1] if values else None


class PlannerOptions(TypedDict):
    """Keyword arguments of `backend.planner.recommend_launch` that a profile decides."""

    kv_cache_dtype: str
    quantization: str


def planner_options(profile: Profile, *, device: Device) -> PlannerOptions:
    """What the memory planner must know of a profile: its KV-cache dtype and weight
    quantization (``--kv-cache-dtype fp8`` halves the KV bytes; ``--quantization fp8``
    stores the weights in one byte)."""
    flags = profile_args(profile, device=device)
    return {
        "kv_cache_dtype": flag_value(flags, "--kv-cache-dtype") or "auto",
        "quantization": flag_value(flags, "--quantization") or "auto",
    }


FAST_PROFILE = "fast"


def fast_profile_notice(profile_name: str, compute_capability: tuple[int, int] | None) -> str:
    """One line for the launch: offer ``fast`` where the GPU has FP8 units, or warn when
    it was chosen on a GPU without them (vLLM then falls back to slower weight-only FP8)."""
    from backend.planner.gpu import supports_fp8

    if compute_capability is None:
        return ""
    cc = ".".join(map(str, compute_capability))
    if profile_name == FAST_PROFILE and not supports_fp8(compute_capability):
        return (
            f"VLLM_PROFILE=fast wants FP8 units (compute capability 8.9+); this GPU is {cc}: "
            "expect it to be slower than VLLM_PROFILE=balanced."
        )
    if profile_name != FAST_PROFILE and supports_fp8(compute_capability):
        return (
            f"This GPU (compute capability {cc}) has FP8 units: VLLM_PROFILE=fast serves FP8 "
            "weights, +28% tokens/s for one user and +16% at 256 users on an H200 "
            "(docs/profiles.md)."
        )
    return ""
