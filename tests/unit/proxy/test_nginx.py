"""The generated nginx.conf: what it routes where, and that Debian's nginx accepts it."""

from __future__ import annotations

import re
import socket
import subprocess

import pytest

from backend.config import Config
from backend.proxy.cli import free_ports, layout_for, port_problem, write
from backend.proxy.nginx import COOKIE, Layout, listen_address, render


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", "127.0.0.1:8000"), ("0.0.0.0", "0.0.0.0:8000"), ("::1", "[::1]:8000"),
     ("[::]", "[::]:8000"), ("localhost", "localhost:8000")],
)  # fmt: skip
def test_listen_address(host, expected):
    assert listen_address(host, 8000) == expected


def test_every_worker_is_an_upstream_and_the_key_is_the_cookie(tmp_path):
    text = render(Layout("127.0.0.1", 8000, (9001, 9002, 9003), tmp_path))
    assert re.findall(r"server 127\.0\.0\.1:(\d+)", text) == ["9001", "9002", "9003"]
    assert "hash $chat_worker_key consistent;" in text
    assert f"$cookie_{COOKIE}" in text and "ip_hash" not in text
    assert "listen 127.0.0.1:8000;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "user " not in text.split("events")[0]  # only when started by root
    # Nothing outside the prefix is written: pid, logs, every temp path.
    paths = re.findall(r"(?:pid|_log|_temp_path) (/[^; ]+)", text)
    assert len(paths) == 8 and all(p.startswith(str(tmp_path)) for p in paths), paths


def test_root_hands_the_workers_to_the_given_user(tmp_path):
    text = render(Layout("127.0.0.1", 8000, (9001, 9002), tmp_path, run_as="alice"))
    assert text.splitlines()[1] == "user alice;"


def test_free_ports_are_distinct():
    ports = free_ports(8)
    assert len(set(ports)) == 8


def test_debian_nginx_accepts_the_written_config(tmp_path):
    config = Config(chat_workers=3, run_dir=str(tmp_path), port=free_ports(1)[0])
    layout = layout_for(config)
    conf = write(layout)
    assert len(layout.worker_ports) == 3 and conf.parent == tmp_path / "nginx"
    prefix = str(layout.prefix)
    command = ["/usr/sbin/nginx", "-t", "-p", prefix, "-c", str(conf), "-e", f"{prefix}/e.log"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_prometheus_scrapes_every_worker_when_there_are_several(tmp_path):
    from backend.metrics.prometheus import chat_targets
    from backend.proxy.workers import write_worker_ports

    one = Config(run_dir=str(tmp_path), port=8000)
    several = Config(run_dir=str(tmp_path), port=8000, chat_workers=2)
    assert chat_targets(several) == ["127.0.0.1:8000"]  # no workers written yet
    write_worker_ports(tmp_path, (9101, 9102))
    assert chat_targets(several) == ["127.0.0.1:9101", "127.0.0.1:9102"]
    assert chat_targets(one) == ["127.0.0.1:8000"]  # one worker: the chat's own port


def test_a_taken_port_is_named_before_anything_starts():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        problem = port_problem("127.0.0.1", port)
    assert problem and f"127.0.0.1:{port}" in problem and "in use" in problem
    assert port_problem("127.0.0.1", free_ports(1)[0]) is None
