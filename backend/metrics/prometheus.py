"""Run Debian's Prometheus against the chat and vLLM with monitoring/'s configuration.

Contract:

- `render_config(template, ...)` is pure: monitoring/prometheus.yml (parsed) in, the
  running copy out — real targets, bearer-token files, absolute rule paths, and
  optionally a shorter scrape interval (the tests use 1 s).
- `write_run_config(config, run_dir)` writes that copy, and the key files it points at
  (owner-only), into ``run_dir`` and returns its path. The vLLM key is VLLM_API_KEY, or the
  key the launcher left in the run dir (start.sh generates one).
- `PrometheusServer` starts ``prometheus`` in its own process group, waits for
  ``/-/ready`` and stops it (a context manager too).
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from backend.config import ROOT, Config
from backend.engine.status import api_key_path
from backend.proxy.workers import worker_ports

MONITORING_DIR = ROOT / "monitoring"
TEMPLATE = MONITORING_DIR / "prometheus.yml"


def _job(cfg: dict, name: str) -> dict:
    return next(job for job in cfg["scrape_configs"] if job["job_name"] == name)


def render_config(
    template: dict,
    *,
    vllm_target: str,
    chat_target: str | list[str],
    vllm_key_file: Path | None,
    chat_token_file: Path | None,
    rules_dir: Path = MONITORING_DIR,
    scrape_interval: str | None = None,
) -> dict:
    """The running configuration: ``template`` with this set-up's targets and files."""
    cfg = copy.deepcopy(template)
    if scrape_interval:
        cfg["global"]["scrape_interval"] = scrape_interval
        cfg["global"]["evaluation_interval"] = scrape_interval
    cfg["rule_files"] = [str((rules_dir / rule).resolve()) for rule in cfg.get("rule_files", [])]
    for name, target, secret in (
        ("vllm", vllm_target, vllm_key_file),
        ("chat", chat_target, chat_token_file),
    ):
        job = _job(cfg, name)
        targets = [target] if isinstance(target, str) else target
        job["static_configs"] = [{"targets": targets}]
        job.pop("authorization", None)
        if secret is not None:
            job["authorization"] = {"type": "Bearer", "credentials_file": str(secret)}
    return cfg


def _host_port(url: str, default_port: int) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"{host}:{parts.port or default_port}"


def chat_target(config: Config) -> str:
    """Where Prometheus reaches the chat (a wildcard address is reached on loopback)."""
    return _host_port(f"http://{config.host}:{config.port}", config.port)


def chat_targets(config: Config) -> list[str]:
    """Every chat process: with CHAT_WORKERS > 1 each worker's own port (RUN_DIR/chat-workers,
    written by start.sh), since through nginx a scrape reaches one worker at random."""
    ports = worker_ports(Path(config.run_dir)) if config.chat_workers > 1 else ()
    return [f"127.0.0.1:{port}" for port in ports] or [chat_target(config)]


def vllm_target(config: Config) -> str:
    return _host_port(config.server_root, 80)


def _secret_file(path: Path, value: str) -> Path:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(value)
    return path


def vllm_key(config: Config) -> str:
    """VLLM_API_KEY, or the key the launcher left in the run dir; empty when neither."""
    if config.vllm_api_key:
        return config.vllm_api_key
    try:
        return api_key_path(config).read_text().strip()
    except OSError:
        return ""


def write_run_config(config: Config, run_dir: Path, scrape_interval: str | None = None) -> Path:
    """Write ``run_dir/prometheus.yml`` (and its key files) for ``config``; its path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    key = vllm_key(config)
    cfg = render_config(
        yaml.safe_load(TEMPLATE.read_text()),
        vllm_target=vllm_target(config),
        chat_target=chat_targets(config),
        vllm_key_file=_secret_file(run_dir / "vllm.key", key) if key else None,
        chat_token_file=(
            _secret_file(run_dir / "chat.token", config.metrics_token)
            if config.metrics_token
            else None
        ),
        scrape_interval=scrape_interval,
    )
    path = run_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class PrometheusServer:
    """``prometheus`` on 127.0.0.1:``port`` with ``config_path``, data in ``data_dir``."""

    def __init__(self, config_path: Path, port: int, data_dir: Path, log_path: Path):
        self.config_path = config_path
        self.port = port
        self.data_dir = data_dir
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=15d",
        ]

    def start(self, timeout_s: float = 60.0) -> PrometheusServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Prometheus did not become ready:\n{tail}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
