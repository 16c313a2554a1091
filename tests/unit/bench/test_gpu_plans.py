"""The GPU measurements' server command: which vLLM entry point, which flags."""

from __future__ import annotations

from bench.gpu_plans import PLANS, config_flags, server_command


def test_one_api_server_uses_the_api_server_module(tmp_path):
    cmd = server_command("py", str(tmp_path), PLANS["levers"], config_flags("fp8-online"), "cuda")
    assert cmd[:5] == ["py", "-m", "vllm.entrypoints.openai.api_server", "--model", str(tmp_path)]
    assert "--load-format" in cmd and cmd[-2:] == ["--quantization", "fp8"]
    assert cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.9"


def test_several_api_servers_go_through_vllm_serve(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    cmd = server_command("py", str(tmp_path), PLANS["levers"], config_flags("api4"), "cuda")
    assert cmd[:5] == ["py", "-m", "vllm.entrypoints.cli.main", "serve", str(tmp_path)]
    assert "--model" not in cmd and "--load-format" not in cmd  # weights on disk
    assert cmd[-2:] == ["--api-server-count", "4"]


def test_a_cpu_run_sets_no_gpu_memory(tmp_path):
    cmd = server_command("py", str(tmp_path), PLANS["smoke"], [], "cpu")
    assert "--gpu-memory-utilization" not in cmd
