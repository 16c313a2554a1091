"""A throw-away PostgreSQL server from Debian's packages: initdb in a temporary folder,
started on a free port, stopped (and its folder removed) at the end.

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user that
Debian's package creates (``runuser``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.fake_openai_server import free_port

USER = "chat"


def bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    folder: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> Postgres:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.folder / "server.log"),
            "start",
        )
        return self

    def new_database(self) -> str:
        """Create an empty database; its URL."""
        name = "t" + uuid.uuid4().hex[:12]
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            USER,
            "-d",
            "postgres",
            "-c",
            f'CREATE DATABASE "{name}"',
        )
        return self.url.replace("/postgres", f"/{name}")

    def stop(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop", check=False
        )


def create() -> Postgres:
    """initdb a new cluster (trust auth, user ``chat``) and start it."""
    found = bin_dir()
    if found is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/test installs it)")
    folder = Path(tempfile.mkdtemp(prefix="chat-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = Postgres(folder, free_port(), found)
    server._run(
        "initdb", "-D", str(folder / "data"), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"
    )
    return server.start()


def remove(server: Postgres) -> None:
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)
