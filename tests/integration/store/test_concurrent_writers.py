"""Several chat workers writing one SQLite file at once, as CHAT_WORKERS=N runs them:
the same person's first login in every worker at the same moment, then many threads and
steps saved through each worker's queue. Nothing may hit "database is locked" or a
constraint (not even a warning that a retry would hide), and every row lands once."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import sqlite3
from pathlib import Path

from chainlit.user import User

from backend.config import Config
from backend.store.database import prepare, sqlite_path
from backend.store.layer import StoreDataLayer
from backend.store.writer import WriteQueue

WORKERS = 4
TASKS = 8  # concurrent logins and thread writes inside each worker
THREADS = 12  # per worker
STEPS = 6  # per thread


class Problems(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage()[:300])


async def work(url_dir: str, worker: int) -> tuple[list[str], list[str]]:
    """One worker's writes; (the user ids its logins got, the warnings it logged)."""
    problems = Problems()
    logging.getLogger("hybrid_chat.store").addHandler(problems)
    database = prepare(Config(data_dir=url_dir))
    assert database.ok, database.problem
    layer = StoreDataLayer(database, WriteQueue(retry_delays_s=(0.05, 0.1), settle_s=0.0))
    try:
        logins = await asyncio.gather(
            *(layer.create_user(User(identifier="alice")) for _ in range(TASKS))
        )
        user_id = logins[0].id if logins[0] else ""
        await asyncio.gather(*(save(layer, worker, k, user_id) for k in range(THREADS)))
        assert await layer.writes.drain(120)
    finally:
        await layer.close()
    return [u.id if u else "" for u in logins], problems.seen


async def save(layer: StoreDataLayer, worker: int, k: int, user_id: str) -> None:
    thread_id = f"w{worker}-t{k}"
    await layer.update_thread(thread_id, name="Chat", user_id=user_id)  # direct: read, write
    for n in range(STEPS):
        await layer.create_step(  # queued: batches that check the thread, then write
            {
                "id": f"{thread_id}-s{n}",
                "threadId": thread_id,
                "name": "User",
                "type": "user_message",
                "output": f"message {n}",
                "createdAt": f"2026-12-01T10:00:{n:02d}.000000Z",
            }
        )
        await asyncio.sleep(0)


def run_worker(url_dir: str, worker: int, start, results) -> None:
    start.wait()
    try:
        results.put((worker, *asyncio.run(work(url_dir, worker))))
    except BaseException as exc:
        results.put((worker, [], [f"crashed: {exc!r}"]))


def test_concurrent_workers_on_one_sqlite_file_never_lock_or_duplicate(tmp_path: Path):
    data_dir = str(tmp_path / "data")
    database = prepare(Config(data_dir=data_dir))  # migrated once, as start.sh does
    assert database.ok, database.problem
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(WORKERS), spawn.Queue()
    workers = [
        spawn.Process(target=run_worker, args=(data_dir, i, start, results)) for i in range(WORKERS)
    ]
    for process in workers:
        process.start()
    try:
        outcomes = [results.get(timeout=240) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    warnings = [w for _, _, seen in outcomes for w in seen]
    assert warnings == [], sorted({w[:100] for w in warnings})
    with sqlite3.connect(sqlite_path(database.url)) as db:
        users = db.execute("SELECT id FROM users WHERE identifier = 'alice'").fetchall()
        threads = db.execute("SELECT COUNT(*) FROM threads").fetchone()[0]
        steps = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM steps").fetchone()
    assert len(users) == 1
    assert {u for _, ids, _ in outcomes for u in ids} == {users[0][0]}
    assert threads == WORKERS * THREADS
    assert steps == (WORKERS * THREADS * STEPS,) * 2
