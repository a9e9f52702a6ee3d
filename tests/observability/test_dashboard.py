"""The Grafana dashboard shipped in docs/ queries what eskit exports, and all of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from eskit.observability.metrics import family_names

pytestmark = pytest.mark.unit

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "eskit.json"
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def _targets(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in _targets(value)]
    if isinstance(node, list):
        return [e for value in node for e in _targets(value)]
    return []


def _queried() -> set[str]:
    names = set()
    for expr in _targets(json.loads(DASHBOARD.read_text())):
        for name in re.findall(r"\beskit_[a-z_]+", expr):
            for suffix in _SUFFIXES:
                if name.endswith(suffix) and name.removesuffix(suffix) in family_names():
                    name = name.removesuffix(suffix)
            names.add(name)
    return names


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    assert _queried() - family_names() == set()


def test_every_exported_metric_is_on_a_panel() -> None:
    assert family_names() - _queried() == set()


def test_the_dashboard_asks_for_its_prometheus_datasource_on_import() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in panels)
