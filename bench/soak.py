"""Soak the chat through its front end: N browser tabs for a while, memory sampled.

Starts its own Chainlit front end (``chainlit run app.py``) against a running vLLM
(VLLM_BASE_URL / VLLM_API_KEY from the environment), then keeps ``--sessions`` tabs busy
for ``--duration-s`` over Chainlit's socket.io, as browsers would: each tab asks one to
three arithmetic questions (thinking on or off), presses Stop on some answers, and closes;
a new tab takes its place. Every answer must complete or be stopped, with no error note;
the front end's resident memory is sampled throughout and must stay flat.

Conversations are saved (a fresh SQLite database in a temporary DATA_DIR; ``--no-save``
turns saving off). At the end, with the front end stopped, the database must hold exactly
one row per message sent (none missing, none extra) and one saved answer per turn. A
message counts as sent once the server acknowledged receiving it; one whose emit failed
(the socket dropped first) is only "unconfirmed": stored or not, it is neither missing
nor extra, and both counts are reported.

    VLLM_BASE_URL=http://127.0.0.1:8001/v1 VLLM_API_KEY=... \\
        .venv/bin/python -m bench.soak --sessions 100 --duration-s 600 --out soak.json

Prints a summary and writes every number to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession, Reply

ROOT = Path(__file__).resolve().parent.parent


STOPPED_NOTE = "*Stopped.*"
ASK_LIMIT_S = 300.0


@dataclass
class Tally:
    turns: int = 0
    completed: int = 0
    stopped: int = 0
    correct: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    tabs_opened: int = 0
    sent_ids: list[str] = field(default_factory=list)  # acknowledged by the server
    attempted_ids: list[str] = field(default_factory=list)  # every emit, failed ones too


def question(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(10, 499), rng.randint(10, 499)
    return f"What is {a} + {b}?", str(a + b)


async def one_turn(tab: ChatSession, rng: random.Random, tally: Tally, stop_share: float):
    text, expected = question(rng)
    stop = rng.random() < stop_share
    mark = tab.mark()
    started = time.monotonic()
    await tab.send(text, think=rng.random() < 0.5)
    if stop:
        await tab.wait_for(lambda: any(i.content for i in tab.since(mark).items), ASK_LIMIT_S)
        await tab.stop()
    await tab.wait_idle(ASK_LIMIT_S)
    reply = tab.since(mark)
    tally.turns += 1
    stopped = any(a.content.endswith(STOPPED_NOTE) for a in reply.answers)
    problem = check_reply(reply)
    if problem:
        tally.errors.append(problem)
        return
    tally.latencies_s.append(time.monotonic() - started)
    if stopped:
        tally.stopped += 1
    else:
        tally.completed += 1
        tally.correct += expected in reply.answer


def check_reply(reply: Reply) -> str | None:
    """Why this reply counts as an error, or None (a stats line or "Stopped." is fine)."""
    if reply.errors:
        return f"error message: {reply.errors[0][:160]}"
    notes = [n for n in reply.notes if not n.startswith("Still answering")]
    if notes:
        return f"note: {notes[0][:160]}"
    if not reply.answers:
        return "no answer message"
    for answer in reply.answers:
        trailer = answer.content.rsplit("\n\n", 1)[-1]
        if any(word in trailer for word in ("model server", "went wrong", "cut off")):
            return f"answer ended with: {trailer[:160]}"
    return None


async def tab_worker(url: str, seed: int, deadline: float, tally: Tally, stop_share: float):
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        tally.tabs_opened += 1
        try:
            async with ChatSession(url) as tab:
                try:
                    for _ in range(rng.randint(1, 3)):
                        if time.monotonic() >= deadline:
                            break
                        await one_turn(tab, rng, tally, stop_share)
                finally:
                    tally.sent_ids += tab.sent
                    tally.attempted_ids += tab.attempted
        except Exception as exc:  # a hung or broken tab is an error, not a crash
            tally.errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")


async def sample_memory(app: ChatApp, every_s: float, samples: list, done: asyncio.Event):
    start = time.monotonic()
    while not done.is_set():
        samples.append((round(time.monotonic() - start, 1), app.rss_kib()))
        try:
            await asyncio.wait_for(done.wait(), every_s)
        except asyncio.TimeoutError:
            pass
    samples.append((round(time.monotonic() - start, 1), app.rss_kib()))


def memory_summary(samples: list[tuple[float, int]], warmup_s: float) -> dict:
    steady = [kib for t, kib in samples if t >= warmup_s] or [kib for _, kib in samples]
    third = max(len(steady) // 3, 1)
    first, last = statistics.mean(steady[:third]), statistics.mean(steady[-third:])
    return {
        "rss_start_mib": round(samples[0][1] / 1024, 1),
        "rss_after_warmup_mib": round(first / 1024, 1),
        "rss_end_mib": round(last / 1024, 1),
        "rss_peak_mib": round(max(kib for _, kib in samples) / 1024, 1),
        "growth_after_warmup_pct": round(100 * (last - first) / first, 1),
    }


def stored_rows(data_dir: str, tally: Tally) -> dict:
    """Compare the saved conversations with what the tabs sent and were answered."""
    with sqlite3.connect(Path(data_dir) / "chat.db") as db:
        users = [r[0] for r in db.execute("SELECT id FROM steps WHERE type = 'user_message'")]
        answers = db.execute(
            "SELECT COUNT(*) FROM steps WHERE type = 'assistant_message' "
            """AND metadata LIKE '%"role": "answer"%'"""
        ).fetchone()[0]
    return saved_counts(users, tally.sent_ids, tally.attempted_ids) | {
        "answer_rows": answers,
        "answers_expected": tally.completed + tally.stopped,
    }


def saved_counts(rows: list[str], sent_ids: list[str], attempted_ids: list[str]) -> dict:
    """Message rows against what was sent: a row for an unconfirmed emit is not "extra"."""
    sent, stored = set(sent_ids), set(rows)
    unconfirmed = set(attempted_ids) - sent
    return {
        "messages_sent": len(sent_ids),
        "message_rows": len(rows),
        "missing": len(sent - stored),
        "extra_or_doubled": len(rows) - len(stored & (sent | unconfirmed)),
        "unconfirmed": len(unconfirmed),
        "unconfirmed_stored": len(unconfirmed & stored),
    }


async def soak(args: argparse.Namespace) -> dict:
    data_dir = tempfile.mkdtemp(prefix="soak-data-")
    env = {
        "VLLM_BASE_URL": os.environ["VLLM_BASE_URL"],
        "VLLM_API_KEY": os.environ.get("VLLM_API_KEY", ""),
        "RUN_DIR": tempfile.mkdtemp(prefix="soak-run-"),
        "DATA_DIR": data_dir,
        "DATABASE_URL": "",
        "SAVE_HISTORY": "off" if args.no_save else "on",
    }
    log = Path(args.log)
    with ChatApp(free_port(), env, log) as app:
        tally, samples, done = Tally(), [], asyncio.Event()
        sampler = asyncio.create_task(sample_memory(app, args.sample_s, samples, done))
        started = time.monotonic()
        deadline = started + args.duration_s
        workers = [
            tab_worker(app.url, seed, deadline, tally, args.stop_share)
            for seed in range(args.sessions)
        ]
        await asyncio.gather(*workers)
        elapsed_s = time.monotonic() - started
        done.set()
        await sampler
    lat = sorted(tally.latencies_s) or [0.0]
    return {
        "saved": None if args.no_save else stored_rows(data_dir, tally),
        "sessions": args.sessions,
        "duration_s": args.duration_s,
        "elapsed_s": round(elapsed_s, 1),
        "tabs_opened": tally.tabs_opened,
        "turns": tally.turns,
        "completed": tally.completed,
        "stopped": tally.stopped,
        "correct_of_completed": tally.correct,
        "errors": len(tally.errors),
        "error_samples": tally.errors[:10],
        "turns_per_s": round(tally.turns / elapsed_s, 2),
        "latency_p50_s": round(lat[len(lat) // 2], 2),
        "latency_p95_s": round(lat[int(len(lat) * 0.95)], 2),
        "memory": memory_summary(samples, args.warmup_s),
        "rss_samples_kib": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--stop-share", type=float, default=0.1, help="answers stopped")
    parser.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling period")
    parser.add_argument("--warmup-s", type=float, default=60.0, help="excluded from growth")
    parser.add_argument("--no-save", action="store_true", help="conversations not saved")
    parser.add_argument("--out", default="soak.json")
    parser.add_argument("--log", default=str(ROOT / "artifacts" / "soak-front-end.log"))
    args = parser.parse_args()
    result = asyncio.run(soak(args))
    Path(args.out).write_text(json.dumps(result, indent=2))
    summary = {k: v for k, v in result.items() if k != "rss_samples_kib"}
    print(json.dumps(summary, indent=2))
    saved = result["saved"]
    ok = result["errors"] == 0 and result["memory"]["growth_after_warmup_pct"] < 10
    if saved is not None:
        ok = ok and saved["missing"] == saved["extra_or_doubled"] == 0
        ok = ok and saved["answer_rows"] == saved["answers_expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
