"""The Grafana dashboard shipped with the Helm chart draws only series the controller exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

import canary.telemetry.loop
import canary.telemetry.metrics
import canary.telemetry.releases  # noqa: F401 - registers the series it defines
from canary.telemetry.releases import ReleaseBook, ReleaseCollector

DASHBOARD = Path(__file__).resolve().parents[3] / "helm" / "canary" / "dashboards" / "canary.json"
SERIES = re.compile(r"\b(?:flagger|canary)_[a-z0-9_]+\b")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}


def _exported() -> set[str]:
    """Every sample name the controller's registry and its release collector can produce."""
    families: list[Metric] = [*REGISTRY.collect()]
    families += ReleaseCollector(ReleaseBook(), phases=dict).describe()
    return {
        family.name + suffix for family in families for suffix in SUFFIXES.get(family.type, ("",))
    }


def _expressions(panels: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for panel in panels:
        found += [str(t.get("expr", "")) for t in panel.get("targets", [])]
        found += _expressions(panel.get("panels", []))
    return found


def test_every_series_the_dashboard_queries_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = [str(v.get("definition", "")) for v in dashboard["templating"]["list"]]
    expressions = _expressions(dashboard["panels"]) + variables
    queried = {name for expr in expressions for name in SERIES.findall(expr)}
    assert queried, "the dashboard queries nothing"
    assert queried <= _exported(), sorted(queried - _exported())


def test_the_dashboard_has_the_promised_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {
        "Canaries by phase",
        "Traffic weights",
        "Metric check values",
        "Reconcile duration (p99)",
        "Analysis tick lateness",
        "API requests by code",
        "Event loop lag",
    } <= titles
