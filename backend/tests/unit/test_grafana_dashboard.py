"""docker/grafana-dashboard.json asks only for series the manager exports, with their labels.
(tests/image/test_prometheus.py has a real Prometheus evaluate every expression.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from lab_workspace_manager.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "docker" / "grafana-dashboard.json"
SERIES = re.compile(r"\b(lab_workspace_manager_\w+)\b")
# Labels Prometheus adds to every series it scrapes, or a histogram's buckets carry.
ADDED_LABELS = {"job", "instance", "le"}


def exported() -> dict[str, set[str]]:
    """Every sample name the manager exports, with its label names."""
    metrics = Metrics(["img:1"])
    metrics.time_to_ready.labels("img:1", "ready").observe(1)
    metrics.access_check_seconds.observe(0.01)
    metrics.listed([])
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def expressions() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    found += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return found


def test_every_expression_names_only_exported_series_and_their_labels() -> None:
    series = exported()
    assert len(expressions()) >= 15
    for expr in expressions():
        names = SERIES.findall(expr)
        assert names, f"no series of the manager in {expr}"
        labels = set().union(*(series.get(name, set()) for name in names)) | ADDED_LABELS
        for name in names:
            assert name in series, f"{name} (in {expr}) is not exported"
        used = set(re.findall(r"(\w+)\s*=~?\s*\"", expr))
        for group in re.findall(r"by \(([^)]*)\)", expr):
            used |= {label.strip() for label in group.split(",")}
        assert used <= labels, f"{expr} uses labels {used - labels} the series do not have"


def test_the_dashboard_covers_what_operators_watch() -> None:
    every = " ".join(expressions())
    for name in (
        "workspaces",
        "users_with_running_workspaces",
        "time_to_ready_seconds_bucket",
        "operations_total",
        "failures_total",
        "automatic_stops_total",
        "proxy_access_checks_total",
        "proxy_access_check_duration_seconds_bucket",
        "engine_call_duration_seconds_bucket",
        "engine_errors_total",
        "event_streams_open",
    ):
        assert f"lab_workspace_manager_{name}" in every, name
