"""The Grafana dashboard's PromQL queries, for the tests that check them."""

from __future__ import annotations

import json

from backend.metrics.prometheus import MONITORING_DIR

DASHBOARD = MONITORING_DIR / "grafana" / "dashboards" / "hybrid-chat.json"


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels if p["type"] != "row" for t in p["targets"]]
