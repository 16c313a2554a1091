"""vLLM's start-up KV-cache check and its error wording, as pure functions.

Contract: `startup_error(...)` returns the text of the ValueError vLLM would raise, or None
when the engine starts. The wording is copied from vLLM 0.32.0
(`vllm/v1/core/kv_cache_utils.py::_check_enough_kv_cache_memory`, minus the docs link);
older releases (0.26.0 included) say "models's max seq len" and lack the CPU-backend clause.
vLLM checks against the available memory minus one block: the null block its BlockPool
holds back for good.
"""

from __future__ import annotations

GIB = 1024**3
BLOCK_SIZE_TOKENS = 16  # vLLM's default --block-size on CUDA


def format_gib(num_bytes: float) -> str:
    """vLLM's `format_gib`: GiB rounded to two places (round-half-even: 5.625 -> 5.62)."""
    return f"{round(num_bytes / GIB, 2)}"


def estimate_max_model_len(check_bytes: int, block_bytes: int, max_model_len: int) -> int:
    """Longest request whose whole blocks fit (vLLM binary-searches; this is its closed form)."""
    return max(0, min(max_model_len, (check_bytes // block_bytes) * BLOCK_SIZE_TOKENS))


def startup_error(
    total_bytes: int, weights: int, available: int, needed: int, block_bytes: int, max_len: int
) -> str | None:
    """The ValueError vLLM 0.32.0 would raise at start-up, worded as its source words it."""
    if weights > total_bytes:
        return (
            "Failed to load model - not enough GPU memory. Try lowering "
            "--gpu-memory-utilization to free memory for weights, increasing "
            "--tensor-parallel-size, or using --quantization."
        )
    if available <= 0:
        return (
            "No available memory for the cache blocks. Try increasing "
            "`gpu_memory_utilization` when initializing the engine."
        )
    check_bytes = available - block_bytes  # the null block is never handed out
    if needed <= check_bytes:
        return None
    estimated = estimate_max_model_len(check_bytes, block_bytes, max_len)
    estimated_msg = (
        f"Based on the available memory, the estimated maximum model length is {estimated}. "
        if estimated > 0
        else ""
    )
    return (
        f"To serve at least one request with the model's max seq len ({max_len}), "
        f"({format_gib(needed)} GiB KV cache is needed, which is larger than the available "
        f"KV cache memory ({format_gib(check_bytes)} GiB). {estimated_msg}"
        "Try increasing `gpu_memory_utilization` (which also controls CPU memory on the CPU "
        "backend) or decreasing `max_model_len` when initializing the engine."
    )
