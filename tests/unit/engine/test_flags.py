"""Flags checked against the engine's own parser: a fake engine, then the installed vLLM."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import backend.engine.plan as plan_module
from backend.config import ROOT, Config
from backend.engine.flags import PARSER_SNIPPET, Dropped, drop_unknown, known_options
from backend.engine.plan import LaunchPlan, load_plan, make_plan, save_plan

ENGINE_PYTHON = ROOT / ".venv-engine" / "bin" / "python"
# An older vLLM's parser: everything the launcher uses except --reasoning-config.
OLD_ENGINE_OPTIONS = [
    "--model",
    "--served-model-name",
    "--host",
    "--port",
    "--reasoning-parser",
    "--max-model-len",
    "--gpu-memory-utilization",
    "--max-num-seqs",
    "--enable-prefix-caching",
    "--enable-chunked-prefill",
    "--max-num-batched-tokens",
    "--api-key",
]


FAKE_ENGINE = """
import pathlib, sys
if "find_spec" in sys.argv[2]:
    print("/fake/vllm/__init__.py 1.0")  # which vLLM is installed
else:
    with (pathlib.Path(__file__).parent / "parser-builds").open("a") as log:
        log.write("built\\n")
    print(OPTIONS)
"""


@pytest.fixture
def old_engine(tmp_path):
    """An ENGINE_PYTHON whose `-c` prints an older vLLM's option strings."""
    script = tmp_path / "python"
    options = repr(json.dumps(OLD_ENGINE_OPTIONS))
    script.write_text(f"#!{sys.executable}\n" + FAKE_ENGINE.replace("OPTIONS", options))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def parser_builds(engine: str) -> int:
    log = Path(engine).parent / "parser-builds"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_drop_unknown_removes_the_flag_and_its_value():
    args = ["py", "-m", "x", "--model", "m", "--reasoning-config", '{"a": 1}', "--api-key", "k"]
    kept, dropped = drop_unknown(args, frozenset({"--model", "--api-key"}), start=3)
    assert kept == ["py", "-m", "x", "--model", "m", "--api-key", "k"]
    assert dropped == [Dropped("--reasoning-config", "thinking budget")]
    assert "thinking budget is unavailable" in dropped[0].notice()
    switches, gone = drop_unknown(["--enforce-eager", "--port", "1"], frozenset({"--port"}))
    assert switches == ["--port", "1"] and gone == [Dropped("--enforce-eager")]


def test_an_engine_without_several_api_servers_keeps_the_serve_command(old_engine, monkeypatch):
    monkeypatch.setattr(plan_module, "has_nvidia_gpu", lambda: True)
    monkeypatch.setattr(plan_module, "sizing", lambda *_: (["--max-num-seqs", "8"], {}))
    plan = make_plan(Config(model="demo", engine_python=old_engine, api_servers=2))
    assert plan.command[2:5] == ("vllm.entrypoints.cli.main", "serve", plan.choice.path)
    assert "--api-server-count" not in plan.command and "--max-num-seqs" in plan.command
    assert [d.flag for d in plan.dropped] == ["--reasoning-config", "--api-server-count"]
    assert plan.sizing["api_servers"] == 2


def test_an_engine_that_cannot_be_asked_gives_none(tmp_path):
    assert known_options(str(tmp_path / "missing-python")) is None


def test_plan_leaves_out_what_an_older_engine_lacks(old_engine, monkeypatch):
    monkeypatch.setattr(plan_module, "has_nvidia_gpu", lambda: False)
    config = Config(model="demo", engine_python=old_engine, vllm_api_key="k")
    plan = make_plan(config)
    assert plan.flags_checked and plan.device == "cpu"
    assert "--reasoning-config" not in plan.command
    assert "--reasoning-parser" in plan.command  # the rest stays
    assert [d.flag for d in plan.dropped] == ["--reasoning-config"]
    assert plan.unavailable == ["thinking budget"]


def test_the_parser_is_built_once_per_installed_vllm(old_engine, tmp_path):
    cache = tmp_path / "run" / "engine-flags.json"
    first = known_options(old_engine, cache)
    assert first == frozenset(OLD_ENGINE_OPTIONS) and parser_builds(old_engine) == 1
    assert known_options(old_engine, cache) == first and parser_builds(old_engine) == 1
    cache.write_text(cache.read_text().replace("1.0", "0.9"))  # another vLLM was installed
    assert known_options(old_engine, cache) == first and parser_builds(old_engine) == 2


def test_a_saved_plan_is_reused_only_for_the_same_settings(old_engine, monkeypatch, tmp_path):
    monkeypatch.setattr(plan_module, "has_nvidia_gpu", lambda: False)
    config = Config(model="demo", engine_python=old_engine, run_dir=str(tmp_path))
    plan = make_plan(config)
    path = save_plan(config, plan)
    assert load_plan(config, path) == plan
    named = config.model_copy(update={"served_model_name": plan.choice.served_name})
    assert load_plan(named, path) == plan  # as start.sh exports it for the chat
    for other in ({"vllm_api_key": "other"}, {"served_model_name": "other"}):
        with pytest.raises(ValueError, match="other settings"):
            load_plan(config.model_copy(update=other), path)
    path.write_text("{")
    with pytest.raises(ValueError, match="cannot read"):
        load_plan(config, path)


@pytest.mark.integration
@pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="engine environment not installed")
def test_the_installed_vllm_knows_every_flag_the_launcher_uses(monkeypatch):
    monkeypatch.setattr(plan_module, "has_nvidia_gpu", lambda: False)
    for profile in ("balanced", "throughput", "low-latency", "low-memory"):
        plan: LaunchPlan = make_plan(Config(model="demo", profile=profile, vllm_api_key="k"))
        assert plan.flags_checked, "the engine's parser could not be built"
        assert plan.dropped == (), profile
        assert "--reasoning-config" in plan.command
    # what a GPU launch adds (several API-server processes, `vllm serve`)
    assert "--api-server-count" in (known_options(str(ENGINE_PYTHON)) or ())


@pytest.mark.integration
@pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="engine environment not installed")
def test_the_installed_vllm_reads_a_key_that_starts_with_a_dash(monkeypatch):
    monkeypatch.setattr(plan_module, "has_nvidia_gpu", lambda: False)
    plan = make_plan(Config(model="demo", vllm_api_key="-Xk3y"))  # 1 in 64 generated keys
    script = PARSER_SNIPPET + "\nimport sys\nprint(new_parser().parse_args(sys.argv[1:]).api_key)"
    done = subprocess.run(
        [str(ENGINE_PYTHON), "-c", script, *plan.command[3:]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "-Xk3y" in done.stdout.splitlines()[-1]
