"""``python -m backend.proxy``: lay out CHAT_WORKERS workers behind nginx for start.sh.

Picks a free loopback port per worker, writes RUN_DIR/nginx/nginx.conf (and the folders
nginx writes to) and RUN_DIR/chat-workers (the ports, for monitoring), and prints shell
assignments: ``WORKER_PORTS`` (space-separated), ``NGINX_PREFIX``, ``NGINX_CONF``. Exit 2
with one line on a configuration problem.
"""

from __future__ import annotations

import os
import pwd
import shlex
import socket
import sys
from pathlib import Path

from backend.config import Config, ConfigError
from backend.proxy.nginx import Layout, render
from backend.proxy.workers import write_worker_ports


def free_ports(count: int) -> tuple[int, ...]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    sockets = []
    try:
        for _ in range(count):  # held together, so no port is handed out twice
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return tuple(s.getsockname()[1] for s in sockets)
    finally:
        for sock in sockets:
            sock.close()


def port_problem(host: str, port: int) -> str | None:
    """Why nginx could not listen on ``host:port`` (checked before any worker starts)."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx binds
        try:
            sock.bind((bare, port))
        except OSError as exc:
            return f"The chat cannot listen on {host}:{port}: {exc.strerror} (PORT/HOST)"
    return None


def layout_for(config: Config) -> Layout:
    # Started by root, nginx would hand its workers to "nobody"; keep them as this user.
    run_as = pwd.getpwuid(os.getuid()).pw_name if os.geteuid() == 0 else None
    prefix = Path(config.run_dir).resolve() / "nginx"
    ports = free_ports(config.chat_workers)
    return Layout(config.host, config.port, ports, prefix, run_as)


def write(layout: Layout) -> Path:
    """Write nginx.conf and create its temp folders; returns the config's path."""
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (layout.prefix / "temp" / kind).mkdir(parents=True, exist_ok=True)
    conf = layout.prefix / "nginx.conf"
    conf.write_text(render(layout), encoding="utf-8")
    return conf


def main() -> int:
    try:
        config = Config.from_env()
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    if problem := port_problem(config.host, config.port):
        sys.stderr.write(f"{problem}\n")
        return 2
    layout = layout_for(config)
    conf = write(layout)
    write_worker_ports(Path(config.run_dir), layout.worker_ports)
    values = {
        "WORKER_PORTS": " ".join(str(p) for p in layout.worker_ports),
        "NGINX_PREFIX": str(layout.prefix),
        "NGINX_CONF": str(conf),
    }
    print("\n".join(f"{name}={shlex.quote(value)}" for name, value in values.items()))
    return 0
