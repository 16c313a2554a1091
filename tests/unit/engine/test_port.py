"""What holds vLLM's port: named before a launch, never launched over."""

from __future__ import annotations

import os
import socket

from backend.engine.cli import main
from backend.engine.port import port_holder
from backend.engine.process import free_port


def test_a_free_port_has_no_holder():
    assert port_holder(free_port()) is None


def test_the_holder_is_named_with_its_pid_and_command():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        holder = port_holder(sock.getsockname()[1])
    assert holder is not None and f"pid {os.getpid()}" in holder
    assert "python" in holder or "pytest" in holder


def test_env_and_serve_refuse_a_taken_port(monkeypatch, tmp_path, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("VLLM_BASE_URL", f"http://127.0.0.1:{port}/v1")
        monkeypatch.setenv("RUN_DIR", str(tmp_path))
        assert main(["env"]) == 1
        assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert f"port {port} is already taken by pid {os.getpid()}" in " ".join(err.split())
    assert not (tmp_path / "engine.json").exists()  # nothing was launched


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server closes first: its side of the connection waits in TIME_WAIT
    listener.close()
    client.close()
    assert port_holder(port) is None
