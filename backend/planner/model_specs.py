"""Model shapes the memory planner needs, from a known id or a Hugging Face config.json.

Contract: `load_model_spec(model)` accepts a known id (see `KNOWN_MODELS`), a path to a
config.json, or a directory holding one, and returns a frozen `ModelSpec`; anything else
raises `ModelSpecError` with a message fit for a user. Parameter counts assume the dense
Llama/Qwen layout (q/k/v/o projections, gated MLP, RMSNorms, Qwen3's per-head q/k norms).

FP8 checkpoints (Qwen/Qwen3-4B-FP8 and the like) carry a ``quantization_config`` in
config.json: ``{"quant_method": "fp8", "weight_block_size": [128, 128], ...}``. The spec
keeps the method and the block size; the planner then counts the decoder's linear weights at
one byte each plus their float32 scale tensors (embeddings and norms stay in ``torch_dtype``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


class ModelSpecError(ValueError):
    """The model could not be resolved to a spec."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    max_position_embeddings: int
    torch_dtype: str = "bfloat16"
    qk_norm: bool = True  # Qwen3 normalises q and k per head (2 x head_dim weights a layer)
    quant_method: str | None = None  # "fp8": the checkpoint's linear weights are FP8
    weight_block_size: tuple[int, int] | None = None  # FP8 block scales (None: per tensor)

    @property
    def num_parameters(self) -> int:
        return parameter_count(self)

    @property
    def linear_shapes(self) -> tuple[tuple[int, int], ...]:
        """One layer's linear weights as vLLM holds them, (out, in): merged q/k/v, o,
        merged gate/up, down."""
        q_width = self.num_attention_heads * self.head_dim
        kv_width = self.num_kv_heads * self.head_dim
        return (
            (q_width + 2 * kv_width, self.hidden_size),
            (self.hidden_size, q_width),
            (2 * self.intermediate_size, self.hidden_size),
            (self.hidden_size, self.intermediate_size),
        )

    @property
    def num_linear_parameters(self) -> int:
        """The decoder's linear weights: what FP8 quantisation stores in one byte."""
        return self.num_layers * sum(out * inp for out, inp in self.linear_shapes)


def parameter_count(spec: ModelSpec) -> int:
    """Weights of a dense decoder: embeddings, per-layer attention + MLP + norms, final norm."""
    q_width = spec.num_attention_heads * spec.head_dim
    kv_width = spec.num_kv_heads * spec.head_dim
    attention = spec.hidden_size * (q_width + 2 * kv_width) + q_width * spec.hidden_size
    mlp = 3 * spec.hidden_size * spec.intermediate_size
    norms = 2 * spec.hidden_size + (2 * spec.head_dim if spec.qk_norm else 0)
    embeddings = spec.vocab_size * spec.hidden_size
    lm_head = 0 if spec.tie_word_embeddings else embeddings
    return embeddings + lm_head + spec.num_layers * (attention + mlp + norms) + spec.hidden_size


def _qwen3(name: str, layers: int, heads: int, hidden: int, inter: int, tied: bool) -> ModelSpec:
    return ModelSpec(
        name=name,
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=8,
        head_dim=128,
        hidden_size=hidden,
        intermediate_size=inter,
        vocab_size=151936,
        tie_word_embeddings=tied,
        max_position_embeddings=40960,
    )


# Copied from each model's config.json on the Hugging Face hub.
KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _qwen3("Qwen/Qwen3-0.6B", layers=28, heads=16, hidden=1024, inter=3072, tied=True),
        _qwen3("Qwen/Qwen3-1.7B", layers=28, heads=16, hidden=2048, inter=6144, tied=True),
        _qwen3("Qwen/Qwen3-4B", layers=36, heads=32, hidden=2560, inter=9728, tied=True),
        _qwen3("Qwen/Qwen3-8B", layers=36, heads=32, hidden=4096, inter=12288, tied=False),
    )
}
# Qwen's block-FP8 releases: the same shapes, quantization_config as in their config.json
FP8_BLOCK = (128, 128)
KNOWN_MODELS.update(
    {
        f"{name}-FP8": replace(
            spec, name=f"{name}-FP8", quant_method="fp8", weight_block_size=FP8_BLOCK
        )
        for name, spec in list(KNOWN_MODELS.items())
    }
)
DEFAULT_MODEL = "Qwen/Qwen3-4B"


def spec_from_config(config: dict, name: str) -> ModelSpec:
    """Build a spec from a parsed config.json (missing optional keys take HF defaults)."""
    try:
        heads = int(config["num_attention_heads"])
        hidden = int(config["hidden_size"])
        return ModelSpec(
            name=name,
            num_layers=int(config["num_hidden_layers"]),
            num_attention_heads=heads,
            num_kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
            hidden_size=hidden,
            intermediate_size=int(config["intermediate_size"]),
            vocab_size=int(config["vocab_size"]),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            max_position_embeddings=int(config.get("max_position_embeddings", 2048)),
            torch_dtype=str(config.get("torch_dtype") or config.get("dtype") or "bfloat16"),
            qk_norm=config.get("model_type", "qwen3").startswith("qwen3"),
            **quantization(config.get("quantization_config"), name),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelSpecError(f"{name}: config.json lacks a usable field ({exc})") from exc


SUPPORTED_QUANT_METHODS = ("fp8",)


class QuantizationFields(TypedDict, total=False):
    """The quantization fields of `ModelSpec`, as `quantization` reads them."""

    quant_method: str
    weight_block_size: tuple[int, int] | None


def quantization(qconfig: object, name: str) -> QuantizationFields:
    """ModelSpec fields from config.json's ``quantization_config`` (absent: none)."""
    if qconfig is None:
        return {}
    method = qconfig.get("quant_method") if isinstance(qconfig, dict) else None
    if not isinstance(qconfig, dict) or method not in SUPPORTED_QUANT_METHODS:
        raise ModelSpecError(
            f"{name}: quantization_config quant_method {method!r} is not one the planner "
            f"knows ({', '.join(SUPPORTED_QUANT_METHODS)})"
        )
    block = qconfig.get("weight_block_size")
    if block is not None and (len(block) != 2 or min(int(b) for b in block) < 1):
        raise ModelSpecError(f"{name}: weight_block_size {block!r} is not [rows, columns]")
    if not block:
        return {"quant_method": method, "weight_block_size": None}
    rows, columns = (int(b) for b in block)
    return {"quant_method": method, "weight_block_size": (rows, columns)}


def load_model_spec(model: str) -> ModelSpec:
    """A known id, a config.json path, or a directory that contains config.json."""
    if model in KNOWN_MODELS:
        return KNOWN_MODELS[model]
    path = Path(model).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        known = ", ".join(KNOWN_MODELS)
        raise ModelSpecError(
            f"unknown model {model!r}: pass a config.json path, a model directory, "
            f"or one of {known}"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelSpecError(f"cannot read {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelSpecError(f"{path} is not a JSON object")
    return spec_from_config(config, name=str(model))
