"""A launch that starts and fits: context length, memory share and batch size for a GPU.

Built on `backend.planner.memory.plan` (vLLM's start-up arithmetic): the preferred length if
the wanted number of requests fits at it, else the longest that holds them; the smallest
catalog GPU for a target; vLLM's own sequence cap on big GPUs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

from backend.planner.gpu import GPU_CATALOG, GpuCard
from backend.planner.memory import DEFAULT_GPU_MEMORY_UTILIZATION, PlanError, plan
from backend.planner.model_specs import ModelSpec
from backend.planner.startup_check import BLOCK_SIZE_TOKENS

DEFAULT_CONCURRENCY = 4
MIN_USEFUL_MAX_MODEL_LEN = 4096  # a reasoning chat needs room to think
TYPICAL_CHAT_TOKENS = 2048  # sizing max_num_seqs: most chats are far below max_model_len
MAX_NUM_SEQS_CAP = 256  # vLLM's own default below 70 GiB
BIG_GPU_GIB = 70  # from here vLLM defaults to 1024 sequences and 8192 batched tokens
BIG_GPU_MAX_NUM_SEQS = 1024


@dataclass(frozen=True)
class Recommendation:
    gpu_memory_utilization: float
    max_model_len: int
    max_num_seqs: int
    max_concurrency: float
    kv_cache_tokens: int
    summary: str

    def to_dict(self) -> dict:
        data = asdict(self)
        data["max_concurrency"] = round(self.max_concurrency, 4)
        return data

    def shell_lines(self) -> list[str]:
        return [
            f"VLLM_GPU_MEMORY_UTILIZATION={self.gpu_memory_utilization}",
            f"VLLM_MAX_MODEL_LEN={self.max_model_len}",
            f"VLLM_MAX_NUM_SEQS={self.max_num_seqs}",
        ]


def recommended_max_num_seqs(gpu_memory_gib: float, concurrency: int, kv_tokens: int) -> int:
    """vLLM's own default on a big GPU (1024 from 70 GiB: capping it at 256 cost throughput
    at 256+ streams on an H200, docs/profiles.md); below, as many typical chats as the KV
    cache holds, at most 256 (vLLM's default there)."""
    if gpu_memory_gib >= BIG_GPU_GIB:
        return max(concurrency, BIG_GPU_MAX_NUM_SEQS)
    return min(MAX_NUM_SEQS_CAP, max(concurrency, kv_tokens // TYPICAL_CHAT_TOKENS))


def smallest_gpu(
    spec: ModelSpec,
    concurrency: int,
    max_model_len: int | None = None,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    kv_cache_dtype: str = "auto",
    quantization: str | None = None,
) -> GpuCard | None:
    """First catalog card that starts and holds `concurrency` requests of max_model_len."""
    for card in GPU_CATALOG:
        result = plan(
            spec,
            card.usable_gib,
            gpu_memory_utilization,
            max_model_len,
            kv_cache_dtype,
            quantization=quantization,
        )
        if result.fits and result.max_concurrency >= concurrency:
            return card
    return None


def _round_len(tokens: int) -> int:
    """Round a context length down to a multiple of 1024 (16 below that)."""
    step = 1024 if tokens >= 1024 else BLOCK_SIZE_TOKENS
    return tokens // step * step


def recommend_launch(
    spec: ModelSpec,
    gpu_memory_gib: float,
    concurrency: int = DEFAULT_CONCURRENCY,
    preferred_max_model_len: int | None = None,
    *,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    kv_cache_dtype: str = "auto",
    quantization: str | None = None,
) -> Recommendation:
    """A launch that starts: the preferred length if `concurrency` requests fit at it,
    else the longest length (>= 4096 where possible) that holds them. Raises PlanError
    when not even a short request fits."""
    target = preferred_max_model_len or spec.max_position_embeddings
    sized = partial(plan, spec, gpu_memory_gib, gpu_memory_utilization, quantization=quantization)
    base = sized(target, kv_cache_dtype)
    usable_blocks = base.num_gpu_blocks - 1  # minus the null block
    longest_single = min(target, usable_blocks * BLOCK_SIZE_TOKENS)
    if longest_single < BLOCK_SIZE_TOKENS:
        raise PlanError(base.error or "no room for a KV cache")
    for_concurrency = usable_blocks // max(1, concurrency) * BLOCK_SIZE_TOKENS
    length = min(target, longest_single, max(for_concurrency, MIN_USEFUL_MAX_MODEL_LEN))
    length = target if length == target else _round_len(length)
    final = sized(length, kv_cache_dtype)
    if not final.fits:  # unreachable by construction; keep the engine's words if it happens
        raise PlanError(final.error or "does not fit")
    max_num_seqs = recommended_max_num_seqs(gpu_memory_gib, concurrency, final.kv_cache_tokens)
    summary = (
        f"{gpu_memory_gib:g} GiB GPU: --gpu-memory-utilization {gpu_memory_utilization} "
        f"--max-model-len {length} --max-num-seqs {max_num_seqs} -> "
        f"{final.kv_cache_tokens:,} KV tokens, {final.max_concurrency:.2f}x at {length:,} tokens"
    )
    return Recommendation(
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=length,
        max_num_seqs=max_num_seqs,
        max_concurrency=final.max_concurrency,
        kv_cache_tokens=final.kv_cache_tokens,
        summary=summary,
    )
