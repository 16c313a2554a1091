"""A level spread over client processes: the plan is dealt out whole, the results merged whole."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import sys

import pytest

from backend.loadtest.direct import prime
from backend.loadtest.metrics import RequestResult, summarize
from backend.loadtest.runner import ServerSampler
from backend.loadtest.shards import ShardRun, merge_runs, run_level, slice_level, split_evenly
from backend.loadtest.targets import TargetSpec
from backend.loadtest.workload import RequestSpec
from tests.support.fake_openai_server import FakeOpenAIServer, Script


def specs(n: int) -> list[RequestSpec]:
    return [RequestSpec(i, f"p{i}", i % 2 == 0, 8) for i in range(n)]


def test_split_evenly_gives_the_remainder_to_the_first_parts():
    assert split_evenly(10, 4) == [3, 3, 2, 2] and split_evenly(3, 3) == [1, 1, 1]


def test_closed_loop_slices_hold_every_request_once_and_the_whole_concurrency():
    parts = slice_level(specs(100), 8, warmup=specs(6), concurrency=64, duration_s=5.0)
    assert len(parts) == 8
    sent = sorted(s.index for p in parts for s in p.specs)
    assert sent == list(range(100))
    assert sum(p.concurrency for p in parts) == 64 and {p.concurrency for p in parts} == {8}
    assert sum(len(p.warmup) for p in parts) == 6
    assert {p.duration_s for p in parts} == {5.0} and all(p.offsets_s is None for p in parts)


def test_never_more_processes_than_streams_or_requests():
    assert len(slice_level(specs(100), 8, concurrency=3)) == 3
    assert len(slice_level(specs(2), 8, concurrency=64)) == 2
    assert len(slice_level(specs(5), 1, concurrency=64)) == 1


def test_open_loop_slices_keep_each_request_with_its_arrival_time():
    offsets = [0.1 * i for i in range(10)]
    parts = slice_level(specs(10), 3, offsets_s=offsets, max_concurrency=7)
    pairs = sorted((s.index, at) for p in parts for s, at in zip(p.specs, p.offsets_s, strict=True))
    assert pairs == list(enumerate(offsets))
    assert [p.max_concurrency for p in parts] == [3, 2, 2]
    assert all(p.concurrency is None for p in parts)


def ok(start: float, tokens: int = 10) -> RequestResult:
    return RequestResult(True, start, 0.1, 1.0, (0.1,) * (tokens - 1), tokens, 5, tokens)


def test_merged_runs_summarise_as_one_level_over_the_common_wall_time():
    a = ShardRun(100.0, 104.0, (ok(100.0), ok(101.0)))
    b = ShardRun(100.5, 106.0, (ok(100.5), RequestResult(False, 102.0, error="HTTP 503")))
    run = merge_runs([a, b])
    assert run.elapsed_s == pytest.approx(6.0) and len(run.results) == 4
    s = summarize(list(run.results), run.elapsed_s, concurrency=4)
    assert (s.success, s.failed, s.errors) == (3, 1, {"HTTP 503": 1})
    assert s.output_tok_s == pytest.approx(30 / 6.0)
    assert merge_runs([]).results == ()


async def test_processes_send_the_whole_level_and_hold_its_concurrency(tmp_path):
    out = tmp_path / "rows.json"
    async with FakeOpenAIServer(Script(first_token_s=0.3, token_interval_s=0.02)) as server:
        cmd = [
            sys.executable, "-m", "backend.loadtest", "--base-url", server.base_url,
            "--processes", "2", "--concurrency", "6", "--num-requests", "24", "--warmup", "4",
            "--input-len", "16", "--output-len", "8", "--seed", "9", "--json", str(out),
        ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE)
        stdout, _ = await asyncio.wait_for(proc.communicate(), 120)
        record = server.record
    assert proc.returncode == 0, stdout
    (row,) = json.loads(out.read_text())
    assert (row["processes"], row["success"], row["failed"], row["warmup"]) == (2, 24, 0, 4)
    assert record.requests == 28 and len(set(record.prompts)) == 28
    assert record.max_in_flight == 6  # 3 streams in each process, at once (~2 s overlap)
    assert row["total_output_tokens"] == 24 * 8 and row["output_tokens_from"] == {"usage": 24}
    assert row["input_len_exact"] and row["input_len_note"] == ""
    assert 0 < row["duration_s"] < 30 and row["server"]["running_max"] <= 6


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
async def test_priming_runs_the_sdk_on_a_canned_stream(endpoint):
    assert await prime(endpoint)  # no server anywhere: nothing is sent


async def test_a_process_that_dies_before_the_start_stops_the_level_with_its_exit_code():
    async with FakeOpenAIServer(Script(first_token_s=3.0)) as server:
        target = TargetSpec(
            "direct", server.base_url, None, "fake-qwen3", "chat", "", "Think", 30.0, 4
        )
        parts = slice_level(specs(4), 2, warmup=specs(2), concurrency=2)
        sampler = ServerSampler(server.base_url.removesuffix("/v1"), None, 5.0)
        level = asyncio.create_task(run_level(target, parts, sampler, lambda _n: None))
        deadline = asyncio.get_running_loop().time() + 60
        while len(mp.active_children()) < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)  # polling for the spawned processes, bounded
        os.kill(mp.active_children()[0].pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="before the start: exit code -9"):
            await asyncio.wait_for(level, 60)
    assert mp.active_children() == []  # the other one was stopped too


async def test_the_sampler_times_every_sample_it_keeps_the_last_look_included():
    from backend.loadtest.server_view import summarize_server

    async with FakeOpenAIServer(Script()) as server:
        sampler = ServerSampler(server.base_url.removesuffix("/v1"), None, 0.05)
        async with sampler:
            while len(sampler.samples) < 2:
                await asyncio.sleep(0.05)  # polling; the test's own timeout bounds it
    assert len(sampler.samples) >= 3 and len(sampler.times_s) == len(sampler.samples)
    view = summarize_server(sampler.samples, sampler.times_s)
    assert view is not None and view.generation_tok_s == 0.0  # an idle server: a rate of 0
