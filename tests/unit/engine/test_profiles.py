"""Launch profiles: well-formed data, GPU/CPU split, env selection, and vLLM's real parser."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from backend.config import Config, ConfigError
from backend.engine.flags import PARSER_SNIPPET
from backend.engine.profiles import (
    FORBIDDEN_FLAGS,
    PROFILES,
    get_profile,
    profile_args,
)

ROOT = Path(__file__).resolve().parents[3]
ENGINE_PYTHON = ROOT / ".venv-engine/bin/python"
SWITCHES = {
    "--enable-prefix-caching",
    "--no-enable-prefix-caching",
    "--enable-chunked-prefill",
    "--async-scheduling",
    "--enforce-eager",
}
GPU_ONLY = {"--enforce-eager", "--async-scheduling", "--max-cudagraph-capture-size", "fp8"}
ALL_ARGS = [
    (name, device, profile_args(profile, device=device))
    for name, profile in PROFILES.items()
    for device in ("cuda", "cpu")
]


@pytest.mark.parametrize(("name", "device", "args"), ALL_ARGS)
def test_flags_are_well_formed(name, device, args):
    index = 0
    while index < len(args):
        flag = args[index]
        assert flag.startswith("--"), f"{name}/{device}: {flag!r} is not a flag"
        assert flag not in FORBIDDEN_FLAGS
        if flag in SWITCHES:  # a switch never takes a value (`--enforce-eager False`)
            index += 1
        else:
            assert index + 1 < len(args) and not args[index + 1].startswith("--")
            index += 2
    flags = [arg for arg in args if arg.startswith("--")]
    assert len(flags) == len(set(flags)), f"{name}/{device} repeats a flag"


@pytest.mark.parametrize(("name", "device", "args"), ALL_ARGS)
def test_cpu_gets_no_gpu_only_flags(name, device, args):
    if device == "cpu":
        assert not GPU_ONLY & set(args)


def test_profiles_are_described_and_distinct():
    assert {"balanced", "throughput", "low-latency", "low-memory"} <= set(PROFILES)
    for name, profile in PROFILES.items():
        assert profile.name == name and len(profile.description) > 40
    cuda_args = {tuple(profile_args(p, device="cuda")) for p in PROFILES.values()}
    assert len(cuda_args) == len(PROFILES)


def test_batched_tokens_cover_max_num_seqs():
    # vLLM rejects max_num_batched_tokens < max_num_seqs.
    for profile in PROFILES.values():
        args = profile_args(profile, device="cuda")
        values = dict(zip(args, args[1:], strict=False))
        if "--max-num-seqs" in values:
            assert int(values["--max-num-batched-tokens"]) >= int(values["--max-num-seqs"])


def test_unknown_profile_lists_valid_names():
    with pytest.raises(ValueError, match="balanced, throughput, low-latency, low-memory"):
        get_profile("turbo")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "balanced"),
        ({"VLLM_PROFILE": ""}, "balanced"),
        ({"VLLM_PROFILE": "low-memory"}, "low-memory"),
    ],
)
def test_profile_from_env(environ, expected, tmp_path):
    config = Config.from_env(environ, env_file=tmp_path / "none")
    assert get_profile(config.profile).name == expected


def test_unknown_profile_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="VLLM_PROFILE='turbo'.*balanced, throughput"):
        Config.from_env({"VLLM_PROFILE": "turbo"}, env_file=tmp_path / "none")


def test_bad_device_is_rejected():
    with pytest.raises(ValueError, match="cuda"):
        profile_args(get_profile("balanced"), device="tpu")  # type: ignore[arg-type]


PARSE_SCRIPT = (
    PARSER_SNIPPET
    + """
import json, sys
results = {}
for key, args in json.loads(sys.argv[1]).items():
    parser = new_parser()
    try:
        ns = parser.parse_args(args)
        results[key] = "ok" if ns.model_tag is None else "positional:" + ns.model_tag
        if ns.num_gpu_blocks_override is not None:
            results[key] = f"num_gpu_blocks_override={ns.num_gpu_blocks_override}"
    except SystemExit:
        results[key] = "rejected"
print(json.dumps(results))
"""
)


@pytest.mark.integration
@pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="engine environment not installed")
def test_real_vllm_parser_accepts_every_profile():
    cases = {f"{name}/{device}": args for name, device, args in ALL_ARGS}
    cases |= {f"bad:{flag}": [flag, "1"] for flag in FORBIDDEN_FLAGS}
    cases["bad:--enforce-eager False"] = ["--enforce-eager", "False"]
    done = subprocess.run(
        [str(ENGINE_PYTHON), "-c", PARSE_SCRIPT, json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for key, outcome in results.items():
        if key.startswith("bad:--enforce-eager"):
            # Accepted, but "False" silently becomes the model name: why it is banned.
            assert outcome == "positional:False"
        elif key == "bad:--num-gpu-blocks":
            # argparse takes it as an abbreviation of --num-gpu-blocks-override: 1 block.
            assert outcome == "num_gpu_blocks_override=1"
        elif key.startswith("bad:"):
            assert outcome == "rejected", key
        else:
            assert outcome == "ok", key
