"""A random-weight checkpoint in Qwen/Qwen3-4B-FP8's format, for speed and memory tests.

Qwen publishes Qwen3-4B-FP8 as block-wise FP8: every linear layer of the decoder (q/k/v/o
projections, gate/up/down) is stored as ``float8_e4m3fn`` with a float32
``weight_scale_inv`` of shape ``[ceil(out/128), ceil(in/128)]`` (the factor that turns a
128x128 block back into real values); embeddings and norms stay bf16, and config.json gains

    "quantization_config": {"quant_method": "fp8", "fmt": "e4m3",
                             "activation_scheme": "dynamic", "weight_block_size": [128, 128]}

This writes that layout from a bf16 config directory (config.json + tokenizer files): random
normal weights (std 0.02), quantised block by block the way the real checkpoint was, so vLLM
loads it through the same code path and kernels as the real one. The text it produces is
noise; speed and memory are the real model's.

    python3 -m bench.fp8_checkpoint .gpu/kit/qwen3-4b-dummy /tmp/q4b-fp8 [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

BLOCK = 128
FP8_MAX = 448.0  # largest finite float8_e4m3fn
QUANTIZATION_CONFIG = {
    "activation_scheme": "dynamic",
    "fmt": "e4m3",
    "quant_method": "fp8",
    "weight_block_size": [BLOCK, BLOCK],
}
COPIED = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "vocab.json")
SHARD_BYTES = 4 * 2**30


def linear_shapes(cfg: dict) -> dict[str, tuple[int, int]]:
    """Per-layer linear weights as (out, in), named as in the Hugging Face checkpoint."""
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or hidden // heads
    kv = cfg.get("num_key_value_heads") or heads
    inter = cfg["intermediate_size"]
    return {
        "self_attn.q_proj": (heads * head_dim, hidden),
        "self_attn.k_proj": (kv * head_dim, hidden),
        "self_attn.v_proj": (kv * head_dim, hidden),
        "self_attn.o_proj": (hidden, heads * head_dim),
        "mlp.gate_proj": (inter, hidden),
        "mlp.up_proj": (inter, hidden),
        "mlp.down_proj": (hidden, inter),
    }


def quantize_block_fp8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(float8_e4m3fn weight, float32 weight_scale_inv [ceil(out/128), ceil(in/128)])."""
    out_dim, in_dim = weight.shape
    rows, cols = math.ceil(out_dim / BLOCK), math.ceil(in_dim / BLOCK)
    padded = torch.zeros(rows * BLOCK, cols * BLOCK, dtype=torch.float32, device=weight.device)
    padded[:out_dim, :in_dim] = weight.float()
    blocks = padded.view(rows, BLOCK, cols, BLOCK)
    amax = blocks.abs().amax(dim=(1, 3)).clamp(min=1e-12)
    scale_inv = amax / FP8_MAX  # real value = fp8 value x scale_inv
    quantized = (blocks / scale_inv[:, None, :, None]).clamp(-FP8_MAX, FP8_MAX)
    fp8 = quantized.view(rows * BLOCK, cols * BLOCK)[:out_dim, :in_dim]
    return fp8.to(torch.float8_e4m3fn).contiguous(), scale_inv.contiguous()


def layer_tensors(cfg: dict, index: int, gen: torch.Generator, device: str):
    """One decoder layer's tensors, quantised linears plus bf16 norms."""
    prefix = f"model.layers.{index}."
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    tensors: dict[str, torch.Tensor] = {}
    for name, shape in linear_shapes(cfg).items():
        weight = torch.randn(shape, generator=gen, device=device) * 0.02
        fp8, scale_inv = quantize_block_fp8(weight)
        tensors[f"{prefix}{name}.weight"] = fp8
        tensors[f"{prefix}{name}.weight_scale_inv"] = scale_inv
    ones = {
        "input_layernorm.weight": cfg["hidden_size"],
        "post_attention_layernorm.weight": cfg["hidden_size"],
        "self_attn.q_norm.weight": head_dim,
        "self_attn.k_norm.weight": head_dim,
    }
    for name, size in ones.items():
        tensors[prefix + name] = torch.ones(size, dtype=torch.bfloat16, device=device)
    return tensors


def write_checkpoint(src: Path, dst: Path, device: str = "cpu", seed: int = 0) -> dict:
    """Write the checkpoint; returns a summary (tensors, bytes, shards)."""
    cfg = json.loads((src / "config.json").read_text())
    dst.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device=device).manual_seed(seed)
    hidden, vocab = cfg["hidden_size"], cfg["vocab_size"]
    embed = (torch.randn(vocab, hidden, generator=gen, device=device) * 0.02).bfloat16()
    pending = {
        "model.embed_tokens.weight": embed,
        "model.norm.weight": torch.ones(hidden, dtype=torch.bfloat16, device=device),
    }
    if not cfg.get("tie_word_embeddings", False):
        lm_head = torch.randn(vocab, hidden, generator=gen, device=device) * 0.02
        pending["lm_head.weight"] = lm_head.bfloat16()
    shards: list[dict[str, torch.Tensor]] = [pending]
    for index in range(cfg["num_hidden_layers"]):
        tensors = layer_tensors(cfg, index, gen, device)
        if _nbytes(shards[-1]) + _nbytes(tensors) > SHARD_BYTES:
            shards.append({})
        shards[-1].update(tensors)
    weight_map, total = {}, 0
    for number, shard in enumerate(shards, 1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        save_file({k: v.cpu() for k, v in shard.items()}, str(dst / name), {"format": "pt"})
        weight_map.update(dict.fromkeys(shard, name))
        total += _nbytes(shard)
    index_json = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (dst / "model.safetensors.index.json").write_text(json.dumps(index_json, indent=2))
    cfg["quantization_config"] = QUANTIZATION_CONFIG
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    _copy_tokenizer(src, dst)
    return {"tensors": len(weight_map), "bytes": total, "shards": len(shards)}


def _nbytes(tensors: dict[str, torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _copy_tokenizer(src: Path, dst: Path) -> None:
    for name in COPIED:
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    gen_path = src / "generation_config.json"
    if gen_path.exists():
        gen = json.loads(gen_path.read_text())
        gen["max_new_tokens"] = 256  # random weights rarely emit EOS: a chat answer must end
        (dst / "generation_config.json").write_text(json.dumps(gen, indent=2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fp8_checkpoint", description=__doc__)
    p.add_argument("src", type=Path, help="bf16 config directory (config.json, tokenizer)")
    p.add_argument("dst", type=Path)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    print(json.dumps(write_checkpoint(a.src, a.dst, a.device, a.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
