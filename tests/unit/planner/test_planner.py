"""Planner maths against vLLM's logged numbers, its start-up check, and the CLI contract."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from backend.planner import PlanError, kv_bytes_per_token, plan, recommend_launch
from backend.planner.gpu import GPU_CATALOG, card_for_marketing_gb, detect_gpu_memory_gib
from backend.planner.model_specs import KNOWN_MODELS, ModelSpecError, load_model_spec
from backend.planner.startup_check import GIB

ROOT = Path(__file__).resolve().parents[3]
QWEN3_4B = KNOWN_MODELS["Qwen/Qwen3-4B"]
ENGINE_KV_UTILS = ROOT / ".venv-engine/lib/python3.11/site-packages/vllm/v1/core/kv_cache_utils.py"

# vLLM 0.26.0, H200 (139.8 GiB visible), Qwen3-4B bf16, utilization 0.5, max-model-len 10000.
REFERENCE = plan(QWEN3_4B, 139.8, 0.5, 10000)


@pytest.mark.parametrize(
    ("field", "logged"),
    [
        ("weights_gib", 7.56),
        ("peak_activation_gib", 0.8),
        ("non_torch_gib", 0.22),
        ("cuda_graph_gib", 1.0),
        ("available_kv_gib", 61.32),
        ("kv_cache_tokens", 446_496),
        ("max_concurrency", 44.65),
    ],
)
def test_reference_run_within_one_percent(field, logged):
    assert getattr(REFERENCE, field) == pytest.approx(logged, rel=0.01)


def test_reference_run_subtracts_everything_but_cuda_graphs():
    # 139.8 x 0.5 - (7.56 + 0.8 + 0.22) = 61.32: the 1.0 GiB of graphs is not in the sum.
    assert REFERENCE.available_kv_gib == pytest.approx(69.9 - 8.58, abs=0.01)
    subtracted = plan(QWEN3_4B, 139.8, 0.5, 10000, cuda_graph_subtracted=True)
    assert subtracted.available_kv_gib == pytest.approx(60.32, abs=0.01)


def test_qwen3_4b_bf16_parameters_alone_are_7_49_gib():
    assert QWEN3_4B.num_parameters == 4_022_468_096
    assert QWEN3_4B.num_parameters * 2 / GIB == pytest.approx(7.49, abs=0.005)


@pytest.mark.parametrize(
    ("model", "kv_cache_dtype", "expected"),
    [
        ("Qwen/Qwen3-4B", "auto", 36 * 2 * 8 * 128 * 2),
        ("Qwen/Qwen3-4B", "fp8", 36 * 2 * 8 * 128 * 1),
        ("Qwen/Qwen3-0.6B", "auto", 28 * 2 * 8 * 128 * 2),
        ("Qwen/Qwen3-0.6B", "fp8_e5m2", 28 * 2 * 8 * 128 * 1),
        ("Qwen/Qwen3-8B", "auto", 36 * 2 * 8 * 128 * 2),
    ],
)
def test_kv_bytes_per_token(model, kv_cache_dtype, expected):
    assert kv_bytes_per_token(KNOWN_MODELS[model], kv_cache_dtype) == expected


def test_fp8_halves_kv_bytes_and_about_doubles_tokens():
    fp8 = plan(QWEN3_4B, 139.8, 0.5, 10000, "fp8")
    assert fp8.kv_bytes_per_token * 2 == REFERENCE.kv_bytes_per_token
    assert fp8.num_gpu_blocks in (2 * REFERENCE.num_gpu_blocks, 2 * REFERENCE.num_gpu_blocks + 1)


@pytest.mark.parametrize("max_model_len", [10000, 40960, 8191, 17])
def test_cache_is_whole_16_token_blocks(max_model_len):
    result = plan(QWEN3_4B, 79.1, 0.9, max_model_len)
    block_bytes = 16 * result.kv_bytes_per_token
    assert result.num_gpu_blocks == math.floor(result.available_kv_gib * GIB / block_bytes)
    blocks_per_request = math.ceil(max_model_len / 16)
    assert result.max_concurrency == result.num_gpu_blocks / blocks_per_request
    # vLLM logs int(concurrency x max_model_len): whole blocks only when len % 16 == 0.
    assert result.kv_cache_tokens == int(result.max_concurrency * max_model_len)
    if max_model_len % 16 == 0:
        assert result.kv_cache_tokens == result.num_gpu_blocks * 16


def test_one_full_length_request_needs_5_625_gib():
    assert plan(QWEN3_4B, 139.8, 0.9).kv_needed_per_request_gib == 5.625


def test_cannot_start_in_vllms_words():
    result = plan(QWEN3_4B, 14.75, 0.75, 40960)
    assert not result.fits
    assert result.error.startswith(
        "To serve at least one request with the model's max seq len (40960), (5.62 GiB KV "
        "cache is needed, which is larger than the available KV cache memory ("
    )
    assert "Based on the available memory, the estimated maximum model length is" in result.error
    assert "Try increasing `gpu_memory_utilization`" in result.error
    assert 0.75 < result.min_gpu_memory_utilization <= 1.0  # raising it is the other fix


def test_estimated_max_model_len_starts_and_one_block_more_does_not():
    result = plan(QWEN3_4B, 14.75, 0.75, 40960)
    estimated = result.estimated_max_model_len
    assert f"the estimated maximum model length is {estimated}." in result.error
    assert plan(QWEN3_4B, 14.75, 0.75, estimated).fits
    assert not plan(QWEN3_4B, 14.75, 0.75, estimated + 16).fits


def test_min_utilization_is_the_threshold():
    result = plan(QWEN3_4B, 14.75, 0.75, 40960)
    assert plan(QWEN3_4B, 14.75, result.min_gpu_memory_utilization, 40960).fits
    assert not plan(QWEN3_4B, 14.75, result.min_gpu_memory_utilization - 0.002, 40960).fits


@pytest.mark.parametrize(
    ("gpu_memory_gib", "utilization", "start_of_error"),
    [
        (6.0, 0.9, "Failed to load model - not enough GPU memory."),
        (8.5, 0.9, "No available memory for the cache blocks."),
    ],
)
def test_earlier_start_up_failures(gpu_memory_gib, utilization, start_of_error):
    result = plan(QWEN3_4B, gpu_memory_gib, utilization)
    assert not result.fits
    assert result.error.startswith(start_of_error)


@pytest.mark.skipif(not ENGINE_KV_UTILS.is_file(), reason="vLLM engine source not installed")
def test_error_wording_is_the_installed_vllms():
    source = ENGINE_KV_UTILS.read_text(encoding="utf-8")
    for fragment in (
        "To serve at least one request with the model's max seq len ",
        "cache is needed, which is larger than the available KV cache ",
        "the estimated maximum model length is {estimated_max_len}. ",
        "Try increasing `gpu_memory_utilization` (which also controls ",
        "No available memory for the cache blocks. ",
    ):
        assert fragment in source


@pytest.mark.parametrize(
    ("marketing_gb", "max_model_len", "min_concurrency"),
    [(16, 9216, 4), (24, 21504, 4), (48, 40960, 4), (80, 40960, 11), (141, 40960, 20)],
)
def test_recommendations_start(marketing_gb, max_model_len, min_concurrency):
    card = card_for_marketing_gb(marketing_gb)
    rec = recommend_launch(QWEN3_4B, card.usable_gib, concurrency=4)
    assert rec.max_model_len == max_model_len
    assert rec.max_concurrency >= min_concurrency
    started = plan(QWEN3_4B, card.usable_gib, rec.gpu_memory_utilization, rec.max_model_len)
    assert started.fits
    assert 4 <= rec.max_num_seqs <= 256
    assert f"--max-model-len {max_model_len}" in rec.summary


def test_recommendation_respects_a_preferred_shorter_length():
    rec = recommend_launch(QWEN3_4B, 79.1, concurrency=4, preferred_max_model_len=16384)
    assert rec.max_model_len == 16384


def test_recommendation_on_a_card_too_small_raises_with_vllms_reason():
    with pytest.raises(PlanError, match="Failed to load model"):
        recommend_launch(QWEN3_4B, 4.0)


def test_catalog_is_ascending_and_gib_below_gb():
    sizes = [card.usable_gib for card in GPU_CATALOG]
    assert sizes == sorted(sizes)
    for card in GPU_CATALOG:  # a "GB" card never shows more GiB than its label
        assert card.usable_gib <= card.marketing_gb


@pytest.mark.parametrize("as_dir", [False, True])
def test_load_model_spec_from_config_json(tmp_path, as_dir):
    config = {
        "model_type": "qwen3",
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "hidden_size": 2560,
        "intermediate_size": 9728,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
        "max_position_embeddings": 40960,
        "torch_dtype": "bfloat16",
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    spec = load_model_spec(str(tmp_path if as_dir else tmp_path / "config.json"))
    assert spec.num_parameters == QWEN3_4B.num_parameters
    assert kv_bytes_per_token(spec) == kv_bytes_per_token(QWEN3_4B)


@pytest.mark.parametrize("model", ["no/such-model", "/nonexistent/config.json"])
def test_unknown_model_is_a_clean_error(model):
    with pytest.raises(ModelSpecError, match="Qwen/Qwen3-4B"):
        load_model_spec(model)


def run_planner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.planner", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_json_contract():
    done = run_planner(
        "--gpu-memory-gib", "139.8", "--gpu-memory-utilization", "0.5",
        "--max-model-len", "10000", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["kv_bytes_per_token"] == 147456
    assert data["available_kv_gib"] == pytest.approx(61.32, rel=0.01)
    assert data["kv_cache_tokens"] == pytest.approx(446_496, rel=0.01)
    assert data["max_concurrency"] == pytest.approx(44.65, rel=0.01)
    assert data["fits"] is True


def test_json_when_it_cannot_start_is_still_one_object():
    done = run_planner("--gpu-memory-gib", "14.75", "--gpu-memory-utilization", "0.75", "--json")
    assert done.returncode == 3
    data = json.loads(done.stdout)
    assert data["fits"] is False
    assert "5.62 GiB KV cache is needed" in data["error"]
    assert "Traceback" not in done.stderr


def test_recommend_shell_lines_on_stdout_table_on_stderr():
    done = run_planner("--gpu-memory-gib", "22", "--recommend", "--shell")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "VLLM_GPU_MEMORY_UTILIZATION=0.9",
        "VLLM_MAX_MODEL_LEN=21504",
        "VLLM_MAX_NUM_SEQS=42",
    ]
    assert "available KV cache" in done.stderr


@pytest.mark.parametrize(
    "args", [("--model", "no/such-model", "--gpu-memory-gib", "24"), ("--recommend", "--json")]
)
def test_bad_input_exits_2_without_traceback(args, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    done = run_planner(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def fake_nvidia_smi(directory: Path, script: str) -> None:
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ('echo "143771, 623"; echo "143771, 623"', 139.79),  # H200: total minus reserved
        ('case "$1" in *reserved*) exit 2;; esac; echo 81920', 80.0),  # older driver
        ('echo "[N/A]"', None),
        ("exit 9", None),
        ("echo", None),
    ],
)
def test_detect_gpu_memory_with_fake_nvidia_smi(tmp_path, monkeypatch, script, expected):
    fake_nvidia_smi(tmp_path, script)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpu_memory_gib() == expected


def test_detect_gpu_memory_without_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert detect_gpu_memory_gib() is None


def test_fp8_kv_cache_tokens_are_whole_blocks():
    from backend.planner import load_model_spec, plan

    result = plan(load_model_spec("Qwen/Qwen3-4B"), 139.8, 0.9, 10000, "fp8")
    assert result.kv_cache_tokens % 16 == 0
    assert result.kv_cache_tokens == result.num_gpu_blocks * 16
