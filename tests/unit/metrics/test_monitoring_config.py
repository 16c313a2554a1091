"""monitoring/: promtool validates the Prometheus configuration (as written in the repo and
as scripts/monitor renders it) and the alert rules, and runs the rules' unit tests; the
Grafana dashboard and provisioning files agree with each other and with the chat's series."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from backend.config import Config
from backend.engine.status import api_key_path, write_api_key
from backend.metrics import ChatMetrics
from backend.metrics.prometheus import MONITORING_DIR, render_config, vllm_key, write_run_config
from tests.support.dashboard import DASHBOARD, dashboard_exprs

GRAFANA = MONITORING_DIR / "grafana"
PROMTOOL = shutil.which("promtool")


def promtool(*args: str) -> subprocess.CompletedProcess:
    if PROMTOOL is None:
        pytest.fail("promtool is missing: scripts/test installs Debian's prometheus package")
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120)


def ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid_and_their_unit_tests_pass():
    ok(promtool("check", "rules", str(MONITORING_DIR / "alerts.yml")))
    ok(promtool("test", "rules", str(MONITORING_DIR / "alerts_test.yml")))


def test_a_broken_rule_is_caught(tmp_path):
    broken = tmp_path / "alerts.yml"
    text = (MONITORING_DIR / "alerts.yml").read_text()
    broken.write_text(text.replace('up{job="vllm"} == 0', 'up{job="vllm" == 0', 1))
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_repo_configuration_is_valid_next_to_a_run_dir(tmp_path):
    shutil.copytree(MONITORING_DIR, tmp_path / "monitoring")
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run" / "vllm-api-key").write_text("k")
    ok(promtool("check", "config", str(tmp_path / "monitoring" / "prometheus.yml")))


def test_rendered_configuration_with_key_and_token_is_valid(tmp_path):
    config = Config(
        vllm_base_url="http://127.0.0.1:18001/v1",
        vllm_api_key="vllm-k3y",
        port=18000,
        host="0.0.0.0",
        metrics_token="chat-t0ken",
        run_dir=str(tmp_path),
    )
    path = write_run_config(config, tmp_path / "monitoring", scrape_interval="1s")
    ok(promtool("check", "config", str(path)))
    jobs = {job["job_name"]: job for job in yaml.safe_load(path.read_text())["scrape_configs"]}
    assert jobs["vllm"]["static_configs"] == [{"targets": ["127.0.0.1:18001"]}]
    assert jobs["chat"]["static_configs"] == [{"targets": ["127.0.0.1:18000"]}]
    for job, secret in (("vllm", "vllm-k3y"), ("chat", "chat-t0ken")):
        key_file = Path(jobs[job]["authorization"]["credentials_file"])
        assert key_file.read_text() == secret
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "k3y" not in path.read_text() and "t0ken" not in path.read_text(), "keys stay in files"


def test_without_key_or_token_nothing_is_sent():
    template = yaml.safe_load((MONITORING_DIR / "prometheus.yml").read_text())
    cfg = render_config(
        template, vllm_target="h:1", chat_target="h:2", vllm_key_file=None, chat_token_file=None
    )
    assert all("authorization" not in job for job in cfg["scrape_configs"])
    assert Path(cfg["rule_files"][0]).is_absolute()


def test_dashboard_panels_use_the_provisioned_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    assert all(p["datasource"]["uid"] == uid and p["targets"] for p in panels)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/hybrid-chat.yml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_every_chat_series_named_in_panels_and_alerts_exists():
    exposed = generate_latest(ChatMetrics(CollectorRegistry()).registry).decode()
    names = set(re.findall(r"^(hybrid_chat_[a-z_]+)", exposed, re.MULTILINE))
    alerts = (MONITORING_DIR / "alerts.yml").read_text()
    used = set(re.findall(r"hybrid_chat_[a-z_]+", " ".join(dashboard_exprs()) + alerts))
    assert used and used <= names, used - names


def test_launcher_key_file_is_owner_only_and_read_for_the_scrape(tmp_path):
    config = Config(vllm_api_key="gen3rated", run_dir=str(tmp_path))
    write_api_key(config)
    path = api_key_path(config)
    assert path.read_text() == "gen3rated"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # scripts/monitor runs without VLLM_API_KEY (start.sh generated it): the file tells.
    assert vllm_key(Config(run_dir=str(tmp_path))) == "gen3rated"
    write_api_key(Config(run_dir=str(tmp_path)))  # no key: no stale file either
    assert not path.exists() and vllm_key(Config(run_dir=str(tmp_path))) == ""
