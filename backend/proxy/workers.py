"""Where the chat workers of the running set-up listen: RUN_DIR/chat-workers.

start.sh (through ``python -m backend.proxy``) writes one port per line at each start with
CHAT_WORKERS > 1; monitoring reads it to scrape every worker's own /metrics (through
nginx a scrape would reach one worker, picked at random).
"""

from __future__ import annotations

from pathlib import Path

WORKERS_FILE = "chat-workers"


def write_worker_ports(run_dir: Path, ports: tuple[int, ...]) -> Path:
    path = run_dir / WORKERS_FILE
    path.write_text("".join(f"{port}\n" for port in ports), encoding="utf-8")
    return path


def worker_ports(run_dir: Path) -> tuple[int, ...]:
    """The ports of the last start with several workers; () when there is none."""
    try:
        text = (run_dir / WORKERS_FILE).read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(int(line) for line in text.split() if line.isdigit())
