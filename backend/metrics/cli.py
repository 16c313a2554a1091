"""scripts/monitor's command line: write the running configuration, start Prometheus, say
where to look, and stop it on Ctrl-C or SIGTERM.

    python -m backend.metrics [--port 9090] [--scrape-interval 5s] [--check]

``--check`` writes the configuration and validates it with promtool instead of starting.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType
from urllib.parse import quote

from rich.console import Console

from backend.config import Config, ConfigError
from backend.metrics.prometheus import (
    MONITORING_DIR,
    PrometheusServer,
    chat_targets,
    vllm_key,
    vllm_target,
    write_run_config,
)

console = Console(stderr=True)
TTFT_P95 = (
    "histogram_quantile(0.95, sum by (le) "
    "(rate(hybrid_chat_time_to_first_token_seconds_bucket[5m])))"
)


def graph_url(base: str, expr: str, range_input: str = "30m") -> str:
    return f"{base}/graph?g0.expr={quote(expr)}&g0.tab=0&g0.range_input={range_input}"


def where_to_look(server: PrometheusServer, config: Config) -> str:
    return "\n".join(
        [
            f"[green]Prometheus[/] {server.url}  (data: {server.data_dir})",
            f"  targets  {server.url}/targets  (vLLM {vllm_target(config)}, "
            f"chat {', '.join(chat_targets(config))})",
            f"  alerts   {server.url}/alerts",
            f"  chat TTFT p95  {graph_url(server.url, TTFT_P95)}",
            f"  Grafana: provision {MONITORING_DIR / 'grafana'} (README: Monitoring) with "
            f"PROMETHEUS_URL={server.url}",
            "Ctrl-C stops Prometheus.",
        ]
    )


def _check(config_path: Path) -> int:
    promtool = shutil.which("promtool")
    if promtool is None:
        console.print("[red]promtool not found[/] (Debian package: prometheus)")
        return 1
    return subprocess.call([promtool, "check", "config", str(config_path)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.metrics")
    parser.add_argument("--port", type=int, help="Prometheus' port (PROMETHEUS_PORT)")
    parser.add_argument("--scrape-interval", default=None, help="e.g. 5s (default: the file's)")
    parser.add_argument("--check", action="store_true", help="validate with promtool, exit")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        console.print(f"[bold red]{exc}[/]")
        return 2
    run_dir = Path(config.run_dir) / "monitoring"
    config_path = write_run_config(config, run_dir, args.scrape_interval)
    if args.check:
        return _check(config_path)
    if not vllm_key(config):
        console.print(
            "[yellow]No vLLM API key found[/] (VLLM_API_KEY, or the launcher's key "
            "file): scraping vLLM without one."
        )
    if shutil.which("prometheus") is None:
        console.print("[red]prometheus not found[/]: scripts/monitor installs Debian's package.")
        return 1
    server = PrometheusServer(
        config_path, args.port or config.prometheus_port, run_dir / "data", run_dir / "log"
    )

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.start()
        console.print(where_to_look(server, config), soft_wrap=True)
        while server.process is not None and server.process.poll() is None:
            time.sleep(1.0)
        console.print(f"[red]Prometheus exited[/]; log: {server.log_path}")
        return 1
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    finally:
        server.stop()
