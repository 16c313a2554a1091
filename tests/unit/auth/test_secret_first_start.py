"""Several chat workers starting at once on a fresh DATA_DIR agree on one login secret
(each creates its own candidate; os.link lets exactly one become the file)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from backend.auth.secret import kept_secret


def _race(data_dir: str, barrier, results) -> None:
    barrier.wait()
    results.put(kept_secret(Path(data_dir)))


def test_workers_created_at_once_read_the_same_secret(tmp_path):
    ctx = mp.get_context("fork")
    for attempt in range(5):
        data_dir = tmp_path / f"data-{attempt}"
        barrier, results = ctx.Barrier(6), ctx.Queue()
        workers = [
            ctx.Process(target=_race, args=(str(data_dir), barrier, results)) for _ in range(6)
        ]
        for worker in workers:
            worker.start()
        secrets = {results.get(timeout=30) for _ in workers}
        for worker in workers:
            worker.join(timeout=30)
        assert len(secrets) == 1 and all(secrets)
        assert (data_dir / "auth_secret").read_text().strip() in secrets
        assert [p.name for p in data_dir.iterdir()] == ["auth_secret"]  # no temp file left
