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

FP8_CONFIG_DIR = Path(__file__).parents[2] / "support" / "qwen3-4b-fp8"
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


# vLLM 0.26.0 start-up logs on an H200 (139.8 GiB visible), Qwen3-4B's shapes, utilization
# 0.9, max-model-len 10000 (bench/results/gpu-engine-*.json; docs/planner-validation.md).
# (config, model, plan keywords, logged weights GiB, KV GiB, KV tokens, concurrency)
MEASURED = [
    ("defaults", "Qwen/Qwen3-4B", {}, 7.56, 117.24, 853_696, 85.37),
    ("balanced + 256 seqs", "Qwen/Qwen3-4B", {"max_num_batched_tokens": 4096}, 7.56, 117.28,
     853_984, 85.40),
    ("block-FP8 checkpoint", "Qwen/Qwen3-4B-FP8", {}, 4.18, 120.59, 878_128, 87.81),
    ("block-FP8, DeepGEMM on", "Qwen/Qwen3-4B-FP8", {}, 4.21, 120.56, 877_888, 87.79),
    ("--quantization fp8", "Qwen/Qwen3-4B", {"quantization": "fp8"}, 4.19, 120.59, 878_080,
     87.81),
    ("fp8 KV cache, eager, 1024 batched", "Qwen/Qwen3-4B",
     {"kv_cache_dtype": "fp8", "enforce_eager": True, "max_num_batched_tokens": 1024}, 7.59,
     117.90, 1_717_056, 171.71),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "options", "weights", "kv_gib", "kv_tokens", "concurrency"),
    [case[1:] for case in MEASURED],
    ids=[case[0] for case in MEASURED],
)
def test_planner_reproduces_vllm_start_up_within_one_percent(
    model, options, weights, kv_gib, kv_tokens, concurrency
):
    result = plan(KNOWN_MODELS[model], 139.8, 0.9, 10000, **options)
    assert result.weights_gib == pytest.approx(weights, rel=0.01)
    assert result.available_kv_gib == pytest.approx(kv_gib, rel=0.01)
    assert result.kv_cache_tokens == pytest.approx(kv_tokens, rel=0.01)
    assert result.max_concurrency == pytest.approx(concurrency, rel=0.01)


def test_fast_profile_serves_fp8_weights_on_gpus_only():
    from backend.engine.profiles import profile_args

    fast = get_profile("fast")
    assert profile_args(fast, device="cuda")[-2:] == ["--quantization", "fp8"]
    assert "--quantization" not in profile_args(fast, device="cpu")
    assert planner_options(fast, device="cuda")["quantization"] == "fp8"


@pytest.mark.parametrize(
    ("profile", "cc", "expected"),
    [
        ("balanced", (9, 0), "VLLM_PROFILE=fast serves FP8"),
        ("balanced", (8, 0), ""),
        ("fast", (9, 0), ""),
        ("fast", (8, 6), "wants FP8 units"),
        ("balanced", None, ""),
    ],
)
def test_launch_offers_fast_where_the_gpu_has_fp8(profile, cc, expected):
    from backend.engine.profiles import fast_profile_notice

    notice = fast_profile_notice(profile, cc)
    assert (expected in notice) if expected else notice == ""


def test_launcher_sizes_the_fast_profile_with_fp8_weights(monkeypatch):
    from backend.config import Config
    from backend.engine import launcher

    monkeypatch.setattr(launcher, "_gpu_memory_gib", lambda: 139.8)
    choice = launcher.ModelChoice("Qwen/Qwen3-4B", "Qwen/Qwen3-4B", False)
    _, balanced = launcher.sizing(Config(model="Qwen/Qwen3-4B"), choice, "cuda")
    _, fast = launcher.sizing(Config(model="Qwen/Qwen3-4B", profile="fast"), choice, "cuda")
    assert fast["kv_cache_tokens"] > balanced["kv_cache_tokens"]  # 3.4 GiB of weights saved
    assert balanced["max_num_seqs"] == 1024  # vLLM's own default on an H200


@pytest.mark.parametrize("model", [str(FP8_CONFIG_DIR), "Qwen/Qwen3-4B-FP8"])
def test_launcher_sizes_qwen3_4b_fp8_from_its_config(monkeypatch, model):
    from backend.config import Config
    from backend.engine import launcher

    monkeypatch.setattr(launcher, "_gpu_memory_gib", lambda: 139.8)
    choice = launcher.ModelChoice(model, "Qwen/Qwen3-4B-FP8", False)
    flags, sized = launcher.sizing(Config(model=model), choice, "cuda")
    block = plan(KNOWN_MODELS["Qwen/Qwen3-4B-FP8"], 139.8, 0.9, sized["max_model_len"])
    assert sized["kv_cache_tokens"] == block.kv_cache_tokens
    assert flags[flags.index("--max-model-len") + 1] == "40960"


def test_block_fp8_through_the_launcher_matches_its_start_up_log():
    # start.sh with MODEL=<block-FP8 checkpoint> on the H200 (bench/results/gpu-relay-fp8.json):
    # balanced profile (4096 batched tokens), the planner's 40,960-token context, 1024 sequences
    result = plan(KNOWN_MODELS["Qwen/Qwen3-4B-FP8"], 139.8, 0.9, 40960, max_num_batched_tokens=4096)
    assert result.weights_gib == pytest.approx(4.18, rel=0.01)
    assert result.available_kv_gib == pytest.approx(120.61, rel=0.01)
    assert result.kv_cache_tokens == pytest.approx(878_256, rel=0.01)
    assert result.max_concurrency == pytest.approx(21.44, rel=0.01)
