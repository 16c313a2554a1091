"""FP8 in the planner: block-FP8 checkpoints, online --quantization fp8, FP8 KV, FP8 GPUs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.engine.profiles import get_profile, planner_options
from backend.planner import plan
from backend.planner.gpu import parse_compute_capability, supports_fp8
from backend.planner.memory import fp8_scale_bytes, weights_bytes
from backend.planner.model_specs import KNOWN_MODELS, ModelSpecError, load_model_spec
from backend.planner.startup_check import GIB

FP8_CONFIG_DIR = Path(__file__).parent / "support" / "qwen3-4b-fp8"
QWEN3_4B = KNOWN_MODELS["Qwen/Qwen3-4B"]


def test_config_json_in_qwen3_4b_fp8_format_gives_the_known_spec():
    spec = load_model_spec(str(FP8_CONFIG_DIR))
    assert spec.quant_method == "fp8"
    assert spec.weight_block_size == (128, 128)
    known = KNOWN_MODELS["Qwen/Qwen3-4B-FP8"]
    assert weights_bytes(spec) == weights_bytes(known)


def test_fp8_stores_linear_weights_in_one_byte_and_the_rest_in_bf16():
    spec = KNOWN_MODELS["Qwen/Qwen3-4B-FP8"]
    # 36 layers x (q/k/v 6144x2560 + o 2560x4096 + gate/up 19456x2560 + down 2560x9728)
    assert spec.num_linear_parameters == 3_633_315_840
    other = spec.num_parameters - spec.num_linear_parameters  # embeddings + norms
    bf16 = weights_bytes(QWEN3_4B)
    assert bf16 - weights_bytes(spec) == spec.num_linear_parameters - fp8_scale_bytes(spec)
    assert other == 389_152_256


def test_block_scales_are_one_float32_per_128x128_block():
    spec = KNOWN_MODELS["Qwen/Qwen3-4B-FP8"]
    # per layer: qkv 48x20, o 20x32, gate_up 152x20, down 20x76 blocks
    assert fp8_scale_bytes(spec) == 36 * (960 + 640 + 3040 + 1520) * 4


def test_online_fp8_counts_like_the_checkpoint_but_per_tensor_scales():
    online = plan(QWEN3_4B, 139.8, 0.9, 10000, quantization="fp8")
    block = plan(KNOWN_MODELS["Qwen/Qwen3-4B-FP8"], 139.8, 0.9, 10000)
    assert online.weight_quantization == "fp8-online"
    assert block.weight_quantization == "fp8-block"
    assert online.weights_gib == pytest.approx(block.weights_gib, abs=0.01)
    assert plan(QWEN3_4B, 139.8, 0.9, 10000).weight_quantization is None


def test_fp8_weights_leave_more_kv_cache():
    bf16 = plan(QWEN3_4B, 139.8, 0.9, 10000)
    fp8 = plan(KNOWN_MODELS["Qwen/Qwen3-4B-FP8"], 139.8, 0.9, 10000)
    saved = bf16.weights_gib - fp8.weights_gib
    assert saved == pytest.approx(3_633_315_840 / GIB, abs=0.01)
    assert fp8.available_kv_gib == pytest.approx(bf16.available_kv_gib + saved, abs=0.05)


@pytest.mark.parametrize(
    ("qconfig", "message"),
    [
        ({"quant_method": "awq"}, "quant_method 'awq' is not one the planner knows"),
        ({"quant_method": "fp8", "weight_block_size": [128]}, "is not [rows, columns]"),
        ("fp8", "quant_method None"),
    ],
)
def test_unknown_quantization_is_a_clear_error(tmp_path, qconfig, message):
    config = json.loads((FP8_CONFIG_DIR / "config.json").read_text())
    config["quantization_config"] = qconfig
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_model_spec(str(tmp_path))


def test_unknown_online_quantization_is_refused():
    with pytest.raises(KeyError, match="int4"):
        plan(QWEN3_4B, 139.8, quantization="int4")


@pytest.mark.parametrize(
    ("text", "expected", "fp8"),
    [
        ("9.0", (9, 0), True),  # H100 / H200
        ("8.9", (8, 9), True),  # L4, L40S, RTX 4090
        ("12.0", (12, 0), True),  # Blackwell
        ("8.6", (8, 6), False),  # A10, RTX 3090
        ("8.0", (8, 0), False),  # A100
        ("7.5", (7, 5), False),  # T4
        ("[N/A]", None, False),
        ("", None, False),
    ],
)
def test_compute_capability_and_fp8_support(text, expected, fp8):
    assert parse_compute_capability(text) == expected
    assert supports_fp8(parse_compute_capability(text)) is fp8


def test_planner_options_follow_the_profile_flags():
    assert planner_options(get_profile("balanced"), device="cuda") == {
        "kv_cache_dtype": "auto",
        "quantization": "auto",
    }
    low_memory = planner_options(get_profile("low-memory"), device="cuda")
    assert low_memory["kv_cache_dtype"] == "fp8"
    assert planner_options(get_profile("low-memory"), device="cpu")["kv_cache_dtype"] == "auto"
