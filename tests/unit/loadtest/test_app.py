"""The app target against a real Chainlit server running a scripted app (known timing).

The app answers the first token 100 ms after the message arrives, then one word every 20 ms.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from backend.engine.process import free_port
from backend.loadtest.app_target import AnswerTracker, AppTarget, app_settings, usage_tokens
from backend.loadtest.metrics import summarize
from backend.loadtest.runner import run_closed_loop
from backend.loadtest.workload import RequestSpec
from tests.support import chainlit_stream_app as scripted
from tests.support.fake_openai_server import FakeOpenAIServer, Script

APP = Path(scripted.__file__).resolve()
COMPARE_LIMIT_S = 300  # four client processes start; a busy machine makes that slow
CHAINLIT = Path(sys.executable).with_name("chainlit")


def _wait_until_up(url: str, proc: subprocess.Popen, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chainlit exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a starting server, bounded by the deadline
    raise TimeoutError(f"{url} did not come up in {deadline_s} s")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("chainlit_root")  # chainlit writes .chainlit/ here
    port = free_port()
    env = {**os.environ, "CHAINLIT_APP_ROOT": str(root)}
    cmd = [str(CHAINLIT), "run", str(APP), "--headless", "--port", str(port), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/", proc, 90)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def specs(n, thinking=False, max_tokens=scripted.ANSWER_TOKENS):
    return [RequestSpec(i, f"question {i}", thinking, max_tokens) for i in range(n)]


async def test_app_target_times_what_the_browser_sees(app_url):
    run = await run_closed_loop(AppTarget(app_url, timeout_s=30).send, specs(6), 3)
    s = summarize(list(run.results), run.elapsed_s, concurrency=3)
    assert (s.success, s.failed) == (6, 0), s.errors
    assert 95 <= s.ttft_ms.p50 <= 220
    assert 12 <= s.itl_ms.p50 <= 35 and s.itl_ms.n == 6 * (scripted.ANSWER_TOKENS - 1)
    assert 300 <= s.e2e_ms.p50 <= 480
    assert s.total_output_tokens == 6 * scripted.ANSWER_TOKENS  # the greeting is not counted
    assert s.output_tokens_from == {"usage": 6}
    assert s.socket_events_per_answer >= scripted.ANSWER_TOKENS + 3  # start, tokens, end


async def test_turns_keep_a_session_for_that_many_answers(app_url):
    target = AppTarget(app_url, timeout_s=30, turns=3)
    try:
        run = await run_closed_loop(target.send, specs(7, max_tokens=5), 1)
    finally:
        await target.close()
    results = list(run.results)
    assert all(r.success for r in results), [r.error for r in results]
    # Each answer is counted on its own, in the session it shares with up to two others.
    assert [(r.chunks, r.output_tokens) for r in results] == [(5, 5)] * 7
    assert target.opened == 3  # answers 1-3, 4-6 and 7
    assert target._idle == []


async def test_a_kept_session_the_server_dropped_is_replaced(app_url):
    target = AppTarget(app_url, timeout_s=30, turns=3)
    try:
        assert (await target.send(specs(1, max_tokens=5)[0])).success
        kept = target._idle[0].socket
        await kept.sio.disconnect()  # as a restarted chat server would
        result = await target.send(specs(1, max_tokens=5)[0])
    finally:
        await target.close()
    assert result.success, result.error
    assert target.opened == 2


async def test_think_command_streams_a_reasoning_step_that_counts(app_url):
    result = await AppTarget(app_url, timeout_s=30).send(specs(1, thinking=True)[0])
    assert result.success, result.error
    assert result.chunks == 2 * scripted.ANSWER_TOKENS
    assert result.output_tokens == 2 * scripted.ANSWER_TOKENS
    assert result.tokens_from == "usage"


async def test_the_settings_panel_sets_the_length_before_the_message(app_url):
    result = await AppTarget(app_url, timeout_s=30).send(specs(1, max_tokens=5)[0])
    assert result.success, result.error
    assert (result.chunks, result.output_tokens, result.tokens_from) == (5, 5, "usage")


async def test_keeping_the_settings_counts_the_delivered_words(app_url):
    target = AppTarget(app_url, timeout_s=30, set_lengths=False)
    result = await target.send(specs(1, max_tokens=5)[0])
    assert result.success, result.error
    assert (result.chunks, result.output_tokens, result.tokens_from) == (
        scripted.ANSWER_TOKENS,
        scripted.ANSWER_TOKENS,
        "words",
    )


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("the answer\n\n*first token 41 ms · 120 reasoning tokens · 136 answer tokens · "
         "9.1 tok/s*", 256),
        ("*The model was still thinking when it reached the 12-token limit, so there is no "
         "answer.*\n\n*first token 9 ms · 12 reasoning tokens · 0 answer tokens*", 12),
        ("just text with 5 answer tokens in it", None),
        ("*first token 9 ms*", None),
        ("", None),
    ],
)  # fmt: skip
def test_usage_is_read_from_the_chats_stats_line(text, tokens):
    assert usage_tokens(text) == tokens


def test_the_app_asks_for_what_the_direct_target_asks():
    assert app_settings(RequestSpec(0, "p", True, 256)) == {"max_tokens": 256, "temperature": 0.0}


async def test_unreachable_app_is_a_failed_result():
    result = await AppTarget("http://127.0.0.1:9", timeout_s=5).send(specs(1)[0])
    assert not result.success and result.error


def test_tracker_counts_only_the_answer_to_its_message():
    t = AnswerTracker(message_id="m", ours={"m"})
    t.feed("task_end", {}, 0.0)  # the connect-time task_end
    t.feed("new_message", {"id": "g", "output": "greeting"}, 0.1)
    t.feed("task_start", {}, 0.2)
    t.feed("stream_token", {"id": "x", "token": "stray"}, 0.25)  # no stream_start seen
    t.feed("new_message", {"id": "run", "parentId": "m", "type": "run"}, 0.26)
    t.feed("task_start", {}, 0.27)  # a second task (on_chat_start) overlaps the answer
    t.feed("stream_start", {"id": "g2", "parentId": "start-run", "output": "hello"}, 0.28)
    t.feed("stream_start", {"id": "a", "parentId": "run", "output": "hi"}, 0.3)
    t.feed("stream_token", {"id": "g2", "token": " again"}, 0.35)
    t.feed("stream_token", {"id": "a", "token": " you"}, 0.4)
    t.feed("new_message", {"id": "a", "parentId": "run", "output": "hi you"}, 0.45)
    t.feed("task_end", {}, 0.46)
    assert not t.done
    t.feed("task_end", {}, 0.5)
    assert t.done and t.arrivals == [0.3, 0.4] and t.text == "hi you"


def test_tracker_takes_a_whole_message_when_nothing_streamed():
    t = AnswerTracker(message_id="m", ours={"m"})
    for event, data, at in [
        ("task_start", {}, 0.0),
        ("new_message", {"id": "run", "parentId": "m", "type": "run", "output": ""}, 0.1),
        ("new_message", {"id": "a", "parentId": "run", "output": "all at once"}, 0.7),
        ("task_end", {}, 0.8),
    ]:
        t.feed(event, data, at)
    assert t.arrivals == [0.7] and t.text == "all at once"


async def test_compare_runs_direct_and_app_in_two_processes_each(app_url, tmp_path):
    """What merging and comparing compute, checked by relations a busy machine cannot break
    (it only delays tokens; the exact timing is `test_timing_is_measured_right`'s)."""
    out = tmp_path / "compare.json"
    async with FakeOpenAIServer(Script()) as server:
        cmd = [
            sys.executable, "-m", "backend.loadtest", "--compare", "--base-url", server.base_url,
            "--app-url", app_url, "--endpoint", "chat", "--concurrency", "2",
            "--num-requests", "4", "--input-len", "16",
            "--output-len", str(scripted.ANSWER_TOKENS), "--json", str(out),
            "--processes", "2",
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
        stdout, _ = await asyncio.wait_for(proc.communicate(), COMPARE_LIMIT_S)
    assert proc.returncode == 0, stdout
    direct, app = json.loads(out.read_text())
    assert (direct["target"], app["target"]) == ("direct", "app")
    assert (direct["processes"], app["processes"]) == (2, 2)
    assert (direct["success"], app["success"]) == (4, 4)
    assert direct["total_output_tokens"] == 4 * scripted.ANSWER_TOKENS  # the server's usage
    assert app["total_output_tokens"] == 4 * scripted.ANSWER_TOKENS  # the stats line's usage
    assert app["output_tokens_from"] == {"usage": 4}
    for row in (direct, app):
        # Neither side's first token comes before its schedule (100 ms), nor the last one.
        assert row["ttft_ms"]["min"] >= 100 - 1
        assert row["e2e_ms"]["min"] >= 100 + 20 * (scripted.ANSWER_TOKENS - 1) - 1
        # One wall time over both processes: each ran its 2 requests one after the other.
        assert row["duration_s"] * 1000 >= max(row["e2e_ms"]["max"], 2 * row["e2e_ms"]["min"])
        assert row["output_tok_s"] == pytest.approx(row["total_output_tokens"] / row["duration_s"])
    cmp = app["comparison"]
    assert cmp["added_ttft_p50_ms"] == pytest.approx(
        app["ttft_ms"]["p50"] - direct["ttft_ms"]["p50"]
    )
    assert cmp["added_e2e_p99_ms"] == pytest.approx(app["e2e_ms"]["p99"] - direct["e2e_ms"]["p99"])
    assert cmp["output_tok_s_ratio"] == pytest.approx(app["output_tok_s"] / direct["output_tok_s"])
    assert cmp["lengths_match"]
    assert cmp["output_tokens_per_answer"] == {
        "direct": scripted.ANSWER_TOKENS,
        "app": scripted.ANSWER_TOKENS,
    }
    assert cmp["socket_events_per_answer"] >= scripted.ANSWER_TOKENS
