"""The direct target and the loops against a scripted server with known timing.

The fake answers the first token 100 ms after a request arrives, then one token every 20 ms,
so TTFT = 100 ms, ITL = TPOT = 20 ms and E2E = 100 + 20 * (tokens - 1) ms. Exactly so on the
scripted clock (`scripted_client`: time moves only when the server sends); over a real socket
a busy machine can only delay chunks, so there only bounds that delay cannot break hold.
"""

import asyncio
import json
import random
import statistics
import sys

import pytest

from backend.loadtest.direct import DirectTarget, make_client
from backend.loadtest.metrics import summarize
from backend.loadtest.runner import run_closed_loop, run_open_loop
from backend.loadtest.workload import RequestSpec, arrival_offsets_s
from tests.support.fake_openai_server import FakeOpenAIServer, Script
from tests.support.scripted_clock import ScriptedClock, scripted_client

EARLY_S = 1e-3  # a timer may fire this early; never a token sooner than its schedule


def specs(n, tokens=11, thinking=False):
    return [RequestSpec(i, f"unique {i} prompt", thinking, tokens) for i in range(n)]


def target(server, endpoint="completions", pool=64):
    return DirectTarget(make_client(server.base_url, None, pool, 30.0), "fake-qwen3", endpoint)


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
async def test_timing_is_measured_right(endpoint):
    clock = ScriptedClock()
    client = scripted_client(clock, Script(), usage_after_s=0.005)
    sent = DirectTarget(client, "fake-qwen3", endpoint, clock=clock).send
    run = await run_closed_loop(sent, specs(6), 1)
    for result in run.results:
        # The role chunk (at once) and the usage chunk (5 ms after the last token) carry no
        # token: counting either would move TTFT, E2E or the gaps.
        assert result.ttft_s == pytest.approx(0.100)
        assert result.itl_s == pytest.approx((0.020,) * 10)
        assert result.latency_s == pytest.approx(0.300)
        assert (result.chunks, result.output_tokens, result.prompt_tokens) == (11, 11, 7)
    s = summarize(list(run.results), run.elapsed_s, concurrency=1)
    assert (s.success, s.failed) == (6, 0)
    assert s.ttft_ms.p50 == pytest.approx(100) and s.ttft_ms.p99 == pytest.approx(100)
    assert s.itl_ms.p50 == pytest.approx(20) and s.itl_ms.n == 6 * 10
    assert s.tpot_ms.mean == pytest.approx(20)
    assert s.e2e_ms.p50 == pytest.approx(300)
    assert s.total_output_tokens == 66  # from the usage chunk
    await client.close()


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
async def test_timing_over_a_socket_never_beats_the_schedule(endpoint):
    async with FakeOpenAIServer() as server:
        run = await run_closed_loop(target(server, endpoint).send, specs(6), 2)
        arrived = sorted(server.record.arrivals_s)
    s = summarize(list(run.results), run.elapsed_s, concurrency=2)
    assert (s.success, s.failed) == (6, 0)
    assert s.itl_ms.n == 6 * 10 and s.total_output_tokens == 66
    # Each clock starts before its request reaches the server (same process, same clock).
    starts = sorted(r.start_s for r in run.results)
    assert all(start <= at for start, at in zip(starts, arrived, strict=True))
    for r in run.results:  # the server sends no token before its time; load only delays
        assert r.ttft_s >= 0.100 - EARLY_S
        assert r.latency_s >= 0.300 - EARLY_S
        assert sum(r.itl_s) == pytest.approx(r.latency_s - r.ttft_s)
        assert min(r.itl_s) >= 0


async def test_reasoning_chunks_count_and_role_chunk_does_not():
    async with FakeOpenAIServer() as server:
        result = await target(server, "chat").send(specs(1, tokens=8, thinking=True)[0])
        body = server.record.bodies[0]
    assert result.chunks == 8  # 4 reasoning + 4 content chunks
    assert result.ttft_s >= 0.095  # the role-only chunk sent at once is no token
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["ignore_eos"] is True and body["max_tokens"] == 8
    assert body["stream_options"] == {"include_usage": True}


async def test_failures_are_counted_by_kind():
    script = Script(first_token_s=0.01, token_interval_s=0.002, fail_every=3, cut_every=4)
    async with FakeOpenAIServer(script) as server:
        run = await run_closed_loop(target(server).send, specs(12, tokens=6), 1)
    s = summarize(list(run.results), run.elapsed_s)
    # requests 3, 6, 9, 12 -> 503; 4 and 8 cut mid-stream (12 already failed with 503)
    assert s.errors == {"HTTP 503": 4, "APIConnectionError": 2}
    assert s.success == 6


async def test_connection_refused_is_a_result_not_a_crash():
    client = make_client("http://127.0.0.1:9/v1", None, 1, 5.0)
    result = await DirectTarget(client, "m", "chat").send(specs(1)[0])
    assert not result.success and result.error == "APIConnectionError"


async def test_closed_loop_caps_in_flight_at_the_concurrency():
    script = Script(first_token_s=0.02, token_interval_s=0.005)
    async with FakeOpenAIServer(script) as server:
        run = await run_closed_loop(target(server).send, specs(24, tokens=4), 4)
        assert server.record.max_in_flight == 4
        assert server.record.requests == 24
    assert len(run.results) == 24


async def test_closed_loop_stops_at_the_duration():
    script = Script(first_token_s=0.05, token_interval_s=0.01)
    async with FakeOpenAIServer(script) as server:
        run = await run_closed_loop(target(server).send, specs(1000, tokens=3), 2, duration_s=0.3)
    assert 2 <= len(run.results) <= 12 and run.elapsed_s < 1.0


async def test_open_loop_sends_on_the_poisson_schedule():
    offsets = arrival_offsets_s(30, 40.0, 1.0, random.Random(11))
    script = Script(first_token_s=0.01, token_interval_s=0.005)
    async with FakeOpenAIServer(script) as server:
        run = await run_open_loop(target(server).send, specs(30, tokens=3), offsets)
        arrivals = server.record.arrivals_s
    origin = min(r.start_s for r in run.results) - offsets[0]
    lateness = [a - origin - o for a, o in zip(sorted(arrivals), offsets, strict=True)]
    # Typical lateness is a few ms; a busy CPU may delay a single send (by a scheduling
    # hiccup on a loaded machine, up to a few hundred ms), never the schedule: a sender that
    # waited for answers would fall further behind with every request.
    assert statistics.median(abs(x) for x in lateness) < 0.015
    assert max(abs(x) for x in lateness) < 0.5
    assert len(run.results) == 30


async def test_cli_writes_the_json_contract(tmp_path):
    out, png = tmp_path / "levels.json", tmp_path / "levels.png"
    script = Script(first_token_s=0.03, token_interval_s=0.005)
    async with FakeOpenAIServer(script) as server:
        cmd = [
            sys.executable, "-m", "backend.loadtest", "--base-url", server.base_url,
            "--endpoint", "completions", "--concurrency", "1,4", "--num-requests", "12",
            "--input-len", "32", "--output-len", "6", "--warmup", "2",
            "--slo", "ttft_ms=1000", "--json", str(out), "--plot", str(png),
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
        stdout, _ = await asyncio.wait_for(proc.communicate(), 60)
        prompts = server.record.prompts
        bodies = server.record.bodies
    assert proc.returncode == 0, stdout
    rows = json.loads(out.read_text())
    assert [r["concurrency"] for r in rows] == [1, 4]
    for row in rows:
        assert (row["success"], row["failed"]) == (12, 0)
        assert row["output_tok_s"] > 0 and row["input_len_exact"] is True
        for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
            assert {"p50", "p90", "p99", "mean"} <= set(row[key])
        assert 1 <= row["server"]["running_max"] <= row["concurrency"]
        assert row["goodput_request_s"] > 0
    assert len(prompts) == 28 and len(set(prompts)) == 28  # warmup included, none repeated
    assert {len(p.split()) for p in prompts} == {32}
    assert {b["max_tokens"] for b in bodies} == {6} and all(b["ignore_eos"] for b in bodies)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
