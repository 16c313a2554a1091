"""CPU seconds of a process from /proc: the whole process, its main thread, its tree."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def loop_cpu_s(pid: int) -> float:
    """CPU seconds of a process's main thread (the chat's event loop); the rest of
    `cpu_s` is its other threads (the database writer, thread pools)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live descendants (vLLM runs its engine in a child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        here = todo.pop()
        with contextlib.suppress(OSError):
            total += cpu_s(here)
        todo += children.get(here, [])
    return total
