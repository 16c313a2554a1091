"""The load tester against the real vLLM (CPU build) with the demo model, and through the chat.

- ``--processes 2`` sends the same level as one process: every request once, the prompts sized
  exactly by the server's own ``/tokenize`` (the demo model's BPE: several tokens per word,
  chat template included), one merged row whose numbers hold together.
- ``--compare``: the app target sets max tokens and temperature 0 through the settings panel
  before each message, so the chat asks for what the direct target asks, and its output tokens
  are the server's usage (the chat's stats line), not a re-count of the text.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backend.config import ROOT
from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.engine import ARTIFACTS

INPUT_LEN = 96  # the 8-word unique prefix plus the template is up to 55 demo tokens
LEVEL_LIMIT_S = 300


def loadtest(vllm_server, out, output_len: int, *args: str) -> list[dict]:
    cmd = [
        sys.executable, "-m", "backend.loadtest", "--base-url", vllm_server.base_url,
        f"--api-key={vllm_server.config.vllm_api_key}", "--input-len", str(INPUT_LEN),
        "--output-len", str(output_len), "--metrics-interval", "0.05", "--json", str(out),
        *args,
    ]  # fmt: skip
    done = subprocess.run(
        ["nice", *cmd], cwd=ROOT, capture_output=True, text=True, timeout=LEVEL_LIMIT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())


def assert_sane(row: dict, requests: int, output_len: int) -> None:
    assert (row["success"], row["failed"]) == (requests, 0), row["errors"]
    assert row["input_len_exact"] and row["input_len_note"] == "", row["input_len_note"]
    assert row["total_input_tokens"] == requests * INPUT_LEN  # the server's usage agrees
    assert row["total_output_tokens"] == requests * output_len  # ignore_eos: exactly asked
    assert row["output_tokens_from"] == {"usage": requests}
    assert 0 < row["ttft_ms"]["p50"] <= row["e2e_ms"]["p50"]
    assert row["e2e_ms"]["max"] / 1000 <= row["duration_s"]
    assert row["request_s"] == pytest.approx(requests / row["duration_s"])
    # A short level can finish between two /metrics samples: only the upper bound is sure.
    assert row["server"]["running_max"] <= row["concurrency"]


def test_two_processes_send_the_same_level_as_one(vllm_server, tmp_path):
    level = ("--concurrency", "2", "--num-requests", "6", "--think-ratio", "0.5")
    (one,) = loadtest(vllm_server, tmp_path / "one.json", 64, *level)
    (two,) = loadtest(vllm_server, tmp_path / "two.json", 64, *level, "--processes", "2")
    assert (one["processes"], two["processes"]) == (1, 2)
    for row in (one, two):
        assert_sane(row, 6, 64)
    # Same work on the same server: the merged wall time is the same order as one process's.
    assert 0.3 < two["duration_s"] / one["duration_s"] < 3


@pytest.fixture(scope="module")
def chat_app(vllm_server, tmp_path_factory):
    env = {
        "VLLM_BASE_URL": vllm_server.base_url,
        "VLLM_API_KEY": vllm_server.config.vllm_api_key,
        "RUN_DIR": str(tmp_path_factory.mktemp("run-loadtest")),
    }
    with ChatApp(free_port(), env, ARTIFACTS / "chat-loadtest.log") as app:
        yield app


def test_app_and_direct_produce_the_same_output_lengths(vllm_server, chat_app, tmp_path):
    args = ("--compare", "--app-url", chat_app.url, "--concurrency", "1", "--num-requests", "4")
    direct, app = loadtest(vllm_server, tmp_path / "cmp.json", 12, *args, "--think-ratio", "0.5")
    assert_sane(direct, 4, 12)
    assert (app["success"], app["failed"]) == (4, 0), app["errors"]
    assert app["output_tokens_from"] == {"usage": 4}  # the server's count, via the stats line
    assert app["total_output_tokens"] == 4 * 12
    cmp = app["comparison"]
    assert cmp["lengths_match"], cmp["output_tokens_per_answer"]
    assert cmp["output_tokens_per_answer"] == {"direct": 12, "app": 12}
