"""What saving costs the chat process per answer, without the chat: the data layer alone.

Each simulated answer hands the layer the writes a real one makes (the question, the
``on_message`` run step created then updated, the reasoning step created then updated, the
answer created then updated, the thread's settings), at a pace of ``--per-s`` answers per
second, then waits until everything is written. Prints the process's CPU time per answer
(every thread counted: the event loop's share and the database driver's) and the wall time
the writer needed after the last answer. SQLite by default; ``--database-url`` for PostgreSQL.

    .venv/bin/python -m bench.store_bench --answers 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import datetime, timezone

from chainlit.context import init_http_context
from chainlit.user import User

from backend.config import Config
from backend.store.database import prepare
from backend.store.layer import StoreDataLayer


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _step(thread: str, kind: str, name: str, output: str, parent: str | None = None) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "threadId": thread,
        "parentId": parent,
        "name": name,
        "type": kind,
        "output": output,
        "input": "",
        "createdAt": _now(),
        "start": _now(),
        "end": None,
        "streaming": True,
        "metadata": {},
        "showInput": False,
        "isError": False,
    }


async def answer(layer: StoreDataLayer, thread: str, words: int, stream_s: float = 0.0) -> None:
    """The writes of one answer, in the order the chat makes them; the reasoning and the
    answer stream for ``stream_s`` seconds each between their steps' opening and closing."""
    question = _step(thread, "user_message", "User", "What is 17 * 23?")
    question["streaming"] = False
    await layer.create_step(question)
    run = _step(thread, "run", "on_message", "", question["id"])
    await layer.create_step(run)
    reasoning = _step(thread, "undefined", "Thinking", "", run["id"])
    await layer.create_step(reasoning)
    await asyncio.sleep(stream_s)
    reasoning.update(output=" ".join(["step"] * words), end=_now(), streaming=False)
    await layer.update_step(reasoning)
    await asyncio.sleep(stream_s)  # the answer streams: its message is sent at the end
    reply = _step(thread, "assistant_message", "Qwen3", "", run["id"])
    reply["end"] = reply["start"]
    stats = {"mode": "Think", "ttft_ms": 12.5, "tokens": words, "tok_s": 40.0}
    reply.update(output=" ".join(["word"] * words), metadata={"stats": stats}, streaming=False)
    await layer.create_step(reply)
    run.update(end=_now(), streaming=False)
    await layer.update_step(run)
    await layer.update_thread(thread, metadata={"settings": {"temperature": 0.6}})


async def measure(url: str, answers: int, per_s: float, words: int, stream_s: float) -> dict:
    data_dir = tempfile.mkdtemp(prefix="store-bench-")
    database = prepare(Config(data_dir=data_dir, database_url=url))
    assert database.ok, database.problem
    layer = StoreDataLayer(database)
    user = await layer.create_user(User(identifier="bench"))
    assert user is not None
    threads = [str(uuid.uuid4()) for _ in range(max(1, answers // 4))]
    for thread in threads:  # four answers per conversation, as a short chat has
        await layer.update_thread(thread, name="Bench", user_id=user.id)
    await layer.writes.drain(60)
    init_http_context(user=user)  # a chat session's writes: queued, as in the chat
    cpu, wall = time.process_time(), time.perf_counter()
    running = set()
    for n in range(answers):  # answers overlap when they stream longer than 1/per_s
        task = asyncio.create_task(answer(layer, threads[n % len(threads)], words, stream_s))
        running.add(task)
        task.add_done_callback(running.discard)
        await asyncio.sleep(1 / per_s)
    await asyncio.gather(*running)
    submitted_s = time.perf_counter() - wall
    assert await layer.writes.drain(120)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    idle_cpu = time.process_time()  # the sleeps' own cost, to subtract
    for _ in range(answers):
        await asyncio.sleep(1 / per_s)
    idle_cpu = time.process_time() - idle_cpu
    await layer.close()
    return {
        "engine": "postgresql" if url else "sqlite",
        "answers": answers,
        "answers_per_s": per_s,
        "words": words,
        "stream_s": stream_s,
        "writes_submitted": layer.writes.submitted,
        "writes_superseded": layer.writes.superseded,
        "cpu_ms_per_answer": round(1000 * (cpu - idle_cpu) / answers, 2),
        "drain_after_last_s": round(wall - submitted_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=400)
    parser.add_argument("--per-s", type=float, default=20.0, help="answers handed over per second")
    parser.add_argument("--words", type=int, default=300, help="length of each reasoning/answer")
    parser.add_argument(
        "--stream-s",
        type=float,
        default=0.8,
        help="how long the reasoning and then the answer stream (0: all writes at once)",
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL; SQLite when empty")
    parser.add_argument("--runs", type=int, default=3)
    ns = parser.parse_args()
    for _ in range(ns.runs):
        result = asyncio.run(measure(ns.database_url, ns.answers, ns.per_s, ns.words, ns.stream_s))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
