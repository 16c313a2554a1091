"""A chat with several workers behind nginx, started by start.sh (CHAT_WORKERS=N).

`start_workers(env, log_name)` starts ./start.sh, polls (without blocking the event
loop, which may be serving a fake model server) until the chat answers through nginx,
and returns the `StartSh` plus its worker ports as start.sh logged them.
`active_sessions(port)` reads one worker's ``hybrid_chat_active_sessions`` from its own
``/metrics``. `stopped(ports)` waits until nothing listens on any of ``ports``.
"""

from __future__ import annotations

import asyncio
import re
import socket

import httpx

from tests.support.start_sh import StartSh

WORKER_LINE = re.compile(r"Starting chat worker on 127\.0\.0\.1:(\d+)")


async def start_workers(
    env: dict[str, str], log_name: str, timeout_s: float = 180
) -> tuple[StartSh, list[int]]:
    start = StartSh(env, log_name)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await asyncio.to_thread(start.status) is None:
        if start.process.poll() is not None or asyncio.get_running_loop().time() > deadline:
            start.interrupt(timeout_s=30)
            raise AssertionError(f"the chat did not come up; start.sh log:\n{start.log()}")
        await asyncio.sleep(0.5)
    return start, [int(p) for p in WORKER_LINE.findall(start.log())]


def active_sessions(port: int) -> int:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    match = re.search(r"^hybrid_chat_active_sessions (\S+)$", text, re.M)
    assert match, text[:500]
    return int(float(match.group(1)))


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def stopped(ports: list[int], timeout_s: float = 30) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while any(listening(p) for p in ports):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True
