"""Who holds a TCP port: checked before vLLM is started on it.

`port_holder(port)` is None when 127.0.0.1:port can be bound; otherwise a description of
what listens there: the process (pid and command line) when /proc shows it, else the
address. A launch onto a taken port would see the other server answer /health, report
"ready" and then die binding the port.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

LISTEN = "0A"  # the TCP state in /proc/net/tcp*


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        # As servers bind (uvicorn, vLLM): connections of a server that just stopped,
        # still in TIME_WAIT, do not hold the port; a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == LISTEN:
                inodes.add(fields[9])
    return inodes


def _pids_holding(inodes: set[str]) -> list[int]:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(str(link.readlink()) in wanted for link in fd_dir.iterdir()):
                pids.append(int(fd_dir.parent.name))
        except OSError:  # gone, or not ours to look at
            continue
    return sorted(pids)


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200] or "?"


def port_holder(port: int, host: str = "127.0.0.1") -> str | None:
    """None when the port is free, else what holds it, in words."""
    if not port_in_use(port, host):
        return None
    pids = _pids_holding(_listening_inodes(port))
    if not pids:
        return f"another process listens on {host}:{port} (not visible from here)"
    return "; ".join(f"pid {pid} ({_command(pid)})" for pid in pids)
