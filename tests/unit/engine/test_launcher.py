import json

from backend.config import DEMO_SERVED_NAME, ROOT, Config
from backend.engine.launcher import (
    REASONING_CONFIG,
    ModelChoice,
    api_server_count,
    build_command,
    command_head,
    resolve_model,
    sizing,
)
from backend.engine.profiles import FORBIDDEN_FLAGS


def test_demo_when_asked_or_unloadable(tmp_path):
    hub = Config(hf_home=str(tmp_path))
    assert resolve_model(Config(model="demo")).demo
    offline = resolve_model(hub, hub_reachable=lambda: False)
    assert offline.demo and offline.served_name == DEMO_SERVED_NAME
    assert "unreachable" in offline.reason
    online = resolve_model(hub, hub_reachable=lambda: True)
    assert not online.demo and online.path == "Qwen/Qwen3-4B"


def test_cached_or_local_model_is_used(tmp_path):
    (tmp_path / "hub" / "models--Qwen--Qwen3-4B").mkdir(parents=True)
    assert not resolve_model(Config(hf_home=str(tmp_path)), hub_reachable=lambda: False).demo
    local = resolve_model(Config(model=str(tmp_path), served_model_name="mine"))
    assert (local.path, local.served_name, local.demo) == (str(tmp_path), "mine", False)


def test_command_line():
    config = Config(vllm_api_key="secret", vllm_base_url="http://127.0.0.1:8123/v1")
    choice = ModelChoice("/m", "served", False)
    cmd = build_command(config, choice, "cpu", ["--max-model-len", "4096"])
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    assert "--host 127.0.0.1 --port 8123" in joined
    assert "--reasoning-parser qwen3" in joined
    assert "--api-key=secret" in cmd
    # a key that looks like an option stays one argument
    dashed = Config(vllm_api_key="-Xk3y")
    assert "--api-key=-Xk3y" in build_command(dashed, choice, "cpu", [])
    assert "--served-model-name served" in joined
    config_arg = json.loads(cmd[cmd.index("--reasoning-config") + 1])
    assert config_arg == REASONING_CONFIG
    assert config_arg["reasoning_end_str"].endswith("directly now.\n</think>\n\n")
    for flag in FORBIDDEN_FLAGS:
        assert flag not in cmd


def test_gpu_launches_run_one_api_server_per_four_cores_up_to_four():
    assert [api_server_count(Config(), "cuda", cores=n) for n in (2, 7, 8, 16, 128)] == [
        1,
        1,
        2,
        4,
        4,
    ]
    assert api_server_count(Config(api_servers=6), "cuda", cores=2) == 6  # the user's choice
    assert api_server_count(Config(), "cpu", cores=128) == 1
    assert api_server_count(Config(api_servers=6), "cpu", cores=128) == 1


def test_the_cores_counted_are_the_ones_this_process_may_use(monkeypatch):
    import backend.engine.launcher as launcher

    monkeypatch.setattr(launcher.os, "cpu_count", lambda: 64)  # the host
    monkeypatch.setattr(launcher.os, "sched_getaffinity", lambda _pid: set(range(8)))
    assert api_server_count(Config(), "cuda") == 2


def test_several_api_servers_start_through_vllm_serve():
    choice = ModelChoice("/m", "served", False)
    cmd = build_command(Config(), choice, "cuda", ["--max-num-seqs", "8"], api_servers=4)
    assert cmd[1:5] == ["-m", "vllm.entrypoints.cli.main", "serve", "/m"]
    assert command_head(cmd) == 5 and "--model" not in cmd
    assert cmd[cmd.index("--api-server-count") + 1] == "4"
    one = build_command(Config(), choice, "cuda", ["--max-num-seqs", "8"])
    assert one[1:5] == ["-m", "vllm.entrypoints.openai.api_server", "--model", "/m"]
    assert command_head(one) == 3 and "--api-server-count" not in one
    # everything after the program is the same launch
    assert cmd[5:-2] == one[5:]


def test_cpu_sizing_uses_the_demo_context_and_low_memory_share():
    choice = resolve_model(Config(model="demo"))
    flags, plan = sizing(Config(model="demo"), choice, "cpu")
    assert flags == ["--max-model-len", "4096", "--gpu-memory-utilization", "0.1"]
    assert plan["device"] == "cpu" and plan["max_concurrency"] > 1


def test_gpu_sizing_asks_the_planner_for_a_launch_that_fits(monkeypatch):
    import backend.engine.launcher as launcher

    choice = ModelChoice("Qwen/Qwen3-4B", "Qwen/Qwen3-4B", False)
    monkeypatch.setattr(launcher, "_gpu_memory_gib", lambda: 22.0)  # a 24 GB card
    flags, plan = sizing(Config(), choice, "cuda")
    length = int(flags[flags.index("--max-model-len") + 1])
    assert 4096 <= length < 40960  # a shorter context instead of vLLM's start-up error
    assert flags[flags.index("--gpu-memory-utilization") + 1] == "0.9"
    assert plan["device"] == "cuda" and plan["max_concurrency"] >= 1
    monkeypatch.setattr(launcher, "_gpu_memory_gib", lambda: 79.1)  # an 80 GB card
    flags, _ = sizing(Config(), choice, "cuda")
    assert flags[flags.index("--max-model-len") + 1] == "40960"
    # An explicit choice wins over the plan.
    flags, _ = sizing(Config(max_num_seqs=7), choice, "cuda")
    assert flags[flags.index("--max-num-seqs") + 1] == "7"


def test_block_fp8_weights_start_without_deep_gemm_unless_asked(monkeypatch):
    import backend.engine.launcher as launcher

    fp8 = str(ROOT / "tests" / "support" / "qwen3-4b-fp8")
    monkeypatch.setattr(launcher, "_gpu_memory_gib", lambda: 139.7)
    _, plan = sizing(Config(model=fp8), ModelChoice(fp8, "Qwen/Qwen3-4B-FP8", False), "cuda")
    assert plan["weights"] == "fp8-block"
    monkeypatch.delenv("VLLM_USE_DEEP_GEMM", raising=False)
    assert launcher.engine_env(Config(), "cuda", plan["weights"])["VLLM_USE_DEEP_GEMM"] == "0"
    assert "VLLM_USE_DEEP_GEMM" not in launcher.engine_env(Config(), "cuda", None)
    assert "VLLM_USE_DEEP_GEMM" not in launcher.engine_env(Config(), "cpu", "fp8-block")
    monkeypatch.setenv("VLLM_USE_DEEP_GEMM", "1")  # the user's choice wins
    assert launcher.engine_env(Config(), "cuda", "fp8-block")["VLLM_USE_DEEP_GEMM"] == "1"
    _, bf16 = sizing(Config(), ModelChoice("Qwen/Qwen3-4B", "Qwen/Qwen3-4B", False), "cuda")
    assert bf16["weights"] is None


def test_the_launch_plan_shows_the_api_servers_and_never_the_key():
    from backend.engine.cli import console, show_plan
    from backend.engine.plan import LaunchPlan

    choice = ModelChoice("/m", "served", False)
    cmd = build_command(Config(vllm_api_key="-s3cret"), choice, "cuda", [], api_servers=4)
    with console.capture() as captured:
        show_plan(LaunchPlan(choice, "cuda", tuple(cmd), {"summary": "fits", "api_servers": 4}))
    out = captured.get()
    assert "4 API-server processes" in out and "--api-key=***" in out
    assert "s3cret" not in out
