"""GPU memory / KV-cache planner: vLLM's start-up arithmetic as pure functions.

vLLM (V1 GPU worker) reserves `total x gpu_memory_utilization` ("requested memory") and
gives the KV cache whatever of it the profiling run did not use:

    available_kv = total x utilization - (weights + peak activation + non-torch memory)

CUDA graphs are captured *after* the KV cache is allocated, so in the reference log they are
reported but not subtracted: they live in the `1 - utilization` remainder. (Newer releases
can subtract a CUDA-graph estimate too; `cuda_graph_subtracted=True` models that.)
The cache is cut into whole 16-token blocks; vLLM refuses to start unless one request of
`max_model_len` tokens fits in the blocks left after the one null block it holds back.

Calibrated against vLLM 0.26.0 on an H200 (139.8 GiB), Qwen3-4B bf16, utilization 0.5,
max-model-len 10000: weights 7.56, activation 0.8, non-torch 0.22, graphs 1.0 GiB,
61.32 GiB KV, 446,496 tokens, 44.65x. Run `python -m backend.planner --help`.

FP8: a checkpoint whose config.json says ``quant_method: fp8`` (Qwen/Qwen3-4B-FP8), or
``quantization="fp8"`` (``--quantization fp8``: vLLM quantises bf16 weights as it loads
them), stores the decoder's linear weights in one byte each plus float32 scales (one per
128x128 block for block-FP8 checkpoints, one per merged shard for online FP8); embeddings
and norms keep the model's dtype. An FP8 KV cache (``kv_cache_dtype="fp8"``) halves the
bytes per token.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from backend.planner.model_specs import DTYPE_BYTES, ModelSpec
from backend.planner.startup_check import (
    BLOCK_SIZE_TOKENS,
    GIB,
    estimate_max_model_len,
    format_gib,
    startup_error,
)

FP8_BYTES = 1
FP8_SHARDS_PER_LAYER = ("q", "k", "v", "o", "gate", "up", "down")  # per-tensor scales
KV_CACHE_DTYPE_BYTES = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "bfloat16": 2, "float16": 2}

# Calibrated on the reference run above; each is one measurement, so treat as estimates.
# vLLM counts as "weights" every tensor allocated while loading: the parameters, the rotary
# cos/sin cache (computed below) and ~0.058 GiB more (small buffers, allocator rounding)
# that we could not attribute; 7.49 GiB of bf16 parameters + these = the logged 7.56 GiB.
LOAD_EXTRA_BYTES = int(0.058 * GIB)
# Profiling runs one batch of max_num_batched_tokens; the peak scales with the tokens and
# the layer widths. 4.27 x (hidden + intermediate) x dtype bytes per token fits 0.8 GiB.
ACTIVATION_WIDTHS_PER_TOKEN = 4.27
NON_TORCH_BYTES = int(0.22 * GIB)  # CUDA context growth, cuBLAS/NCCL workspaces
CUDA_GRAPH_BYTES = int(1.0 * GIB)  # piecewise + full graphs at default capture sizes

DEFAULT_GPU_MEMORY_UTILIZATION = 0.9


class PlanError(ValueError):
    """No configuration of the requested kind can start."""


@dataclass(frozen=True)
class Plan:
    model: str
    weight_quantization: str | None
    gpu_memory_gib: float
    gpu_memory_utilization: float
    max_model_len: int
    kv_cache_dtype: str
    dtype: str
    max_num_batched_tokens: int
    num_parameters: int
    weights_gib: float
    kv_bytes_per_token: int
    peak_activation_gib: float
    non_torch_gib: float
    cuda_graph_gib: float
    cuda_graph_subtracted: bool
    requested_gib: float
    non_kv_gib: float
    available_kv_gib: float
    num_gpu_blocks: int
    kv_cache_tokens: int
    max_concurrency: float
    kv_needed_per_request_gib: float
    estimated_max_model_len: int
    min_gpu_memory_utilization: float  # > 1.0: this max_model_len never fits on this GPU
    fits: bool
    error: str | None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        data["warnings"] = list(self.warnings)
        return data


def resolve_dtype(spec: ModelSpec, dtype: str = "auto") -> str:
    if dtype != "auto":
        return dtype
    # vLLM serves float32 checkpoints in half precision unless told otherwise.
    return "bfloat16" if spec.torch_dtype == "float32" else spec.torch_dtype


def kv_bytes_per_token(spec: ModelSpec, kv_cache_dtype: str = "auto", dtype: str = "auto") -> int:
    """K and V for every layer: layers x 2 x KV heads x head_dim x element bytes."""
    element_bytes = (
        KV_CACHE_DTYPE_BYTES.get(kv_cache_dtype) or DTYPE_BYTES[resolve_dtype(spec, dtype)]
    )
    return spec.num_layers * 2 * spec.num_kv_heads * spec.head_dim * element_bytes


def weight_quantization(spec: ModelSpec, quantization: str | None = None) -> str | None:
    """ "fp8-block" (the checkpoint's own FP8), "fp8-online" (``--quantization fp8`` on a
    bf16 checkpoint) or None. A checkpoint's own quantization wins, as in vLLM."""
    if spec.quant_method == "fp8":
        return "fp8-block" if spec.weight_block_size else "fp8-tensor"
    if quantization in (None, "", "auto", "none"):
        return None
    if quantization != "fp8":
        raise KeyError(f"quantization {quantization!r} is not one the planner knows (fp8)")
    return "fp8-online"


def fp8_scale_bytes(spec: ModelSpec) -> int:
    """float32 scales: one per weight block, else one per shard of each merged linear."""
    if spec.weight_block_size:
        rows, cols = spec.weight_block_size
        per_layer = sum(cdiv(o, rows) * cdiv(i, cols) for o, i in spec.linear_shapes)
    else:
        per_layer = len(FP8_SHARDS_PER_LAYER)
    return spec.num_layers * per_layer * 4


def weights_bytes(spec: ModelSpec, dtype: str = "auto", quantization: str | None = None) -> int:
    element_bytes = DTYPE_BYTES[resolve_dtype(spec, dtype)]
    rotary_cache = spec.max_position_embeddings * spec.head_dim * element_bytes
    if weight_quantization(spec, quantization) is None:
        parameters = spec.num_parameters * element_bytes
    else:
        linear = spec.num_linear_parameters
        other = (spec.num_parameters - linear) * element_bytes
        parameters = linear * FP8_BYTES + fp8_scale_bytes(spec) + other
    return parameters + rotary_cache + LOAD_EXTRA_BYTES


def default_max_num_batched_tokens(gpu_memory_gib: float) -> int:
    """`vllm serve`'s defaults: 16384 from 160 GiB, 8192 from 70 GiB (H100/H200), else 2048."""
    if gpu_memory_gib >= 160:
        return 16384
    return 8192 if gpu_memory_gib >= 70 else 2048


def peak_activation_bytes(spec: ModelSpec, max_num_batched_tokens: int, dtype: str) -> int:
    width = spec.hidden_size + spec.intermediate_size
    element_bytes = DTYPE_BYTES[resolve_dtype(spec, dtype)]
    return int(max_num_batched_tokens * width * element_bytes * ACTIVATION_WIDTHS_PER_TOKEN)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def plan(
    spec: ModelSpec,
    gpu_memory_gib: float,
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION,
    max_model_len: int | None = None,
    kv_cache_dtype: str = "auto",
    *,
    dtype: str = "auto",
    max_num_batched_tokens: int | None = None,
    cuda_graph_subtracted: bool = False,
    enforce_eager: bool = False,
    quantization: str | None = None,
) -> Plan:
    """What vLLM would log at start-up for this model on this GPU (never raises on misfit).
    Raises KeyError for a quantization method the planner does not know."""
    max_len = max_model_len or spec.max_position_embeddings
    batched = max_num_batched_tokens or default_max_num_batched_tokens(gpu_memory_gib)
    total = int(gpu_memory_gib * GIB)
    requested = math.ceil(total * gpu_memory_utilization)
    weights = weights_bytes(spec, dtype, quantization)
    activation = peak_activation_bytes(spec, batched, dtype)
    graphs = 0 if enforce_eager else CUDA_GRAPH_BYTES
    subtracted_graphs = graphs if cuda_graph_subtracted else 0
    non_kv = weights + activation + NON_TORCH_BYTES + subtracted_graphs
    available = requested - non_kv
    per_token = kv_bytes_per_token(spec, kv_cache_dtype, dtype)
    block_bytes = per_token * BLOCK_SIZE_TOKENS
    blocks_per_request = cdiv(max_len, BLOCK_SIZE_TOKENS)
    needed = blocks_per_request * block_bytes
    num_blocks = max(0, available) // block_bytes
    concurrency = num_blocks / blocks_per_request
    error = startup_error(total, weights, available, needed, block_bytes, max_len)
    # Smallest utilization at which one max_model_len request (+ the null block) fits.
    min_utilization = math.ceil((non_kv + needed + block_bytes) / total * 1000) / 1000
    warnings = []
    if graphs and not cuda_graph_subtracted and graphs > total - requested:
        warnings.append(
            f"CUDA graphs need about {format_gib(graphs)} GiB outside the "
            f"{format_gib(total - requested)} GiB left by gpu_memory_utilization "
            f"{gpu_memory_utilization}: lower it or pass --enforce-eager."
        )
    return Plan(
        model=spec.name,
        weight_quantization=weight_quantization(spec, quantization),
        gpu_memory_gib=gpu_memory_gib,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_len,
        kv_cache_dtype=kv_cache_dtype,
        dtype=resolve_dtype(spec, dtype),
        max_num_batched_tokens=batched,
        num_parameters=spec.num_parameters,
        weights_gib=weights / GIB,
        kv_bytes_per_token=per_token,
        peak_activation_gib=activation / GIB,
        non_torch_gib=NON_TORCH_BYTES / GIB,
        cuda_graph_gib=graphs / GIB,
        cuda_graph_subtracted=cuda_graph_subtracted,
        requested_gib=requested / GIB,
        non_kv_gib=non_kv / GIB,
        available_kv_gib=available / GIB,
        num_gpu_blocks=num_blocks,
        # vLLM logs int(concurrency x max_model_len): whole blocks when max_len % 16 == 0.
        # Integer arithmetic: the float product can land a hair below a whole number.
        kv_cache_tokens=num_blocks * max_len // blocks_per_request,
        max_concurrency=concurrency,
        kv_needed_per_request_gib=needed / GIB,
        estimated_max_model_len=estimate_max_model_len(
            available - block_bytes, block_bytes, max_len
        ),
        min_gpu_memory_utilization=min_utilization,
        fits=error is None,
        error=error,
        warnings=tuple(warnings),
    )
