"""The Grafana dashboards under deploy/monitoring/grafana/dashboards: their panels and the
queries in them, made concrete so Prometheus tools can read them."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling.errors import StackyardError
from tooling.monitoring.layout import DASHBOARDS_DIR
from tooling.monitoring.promql import Expression
from tooling.monitoring.yaml_dump import dump_yaml


@dataclass(frozen=True)
class Panel:
    dashboard: str
    title: str
    description: str
    exprs: tuple[str, ...]

    @property
    def cluster_only(self) -> bool:
        return "cluster only" in self.description.lower()


def _walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels", []))


def dashboards(root: Path) -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted((root / DASHBOARDS_DIR).glob("*.json"))}


def dashboard_panels(root: Path) -> list[Panel]:
    found = []
    for name, board in dashboards(root).items():
        for panel in _walk_panels(board.get("panels", [])):
            exprs = tuple(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            if exprs:
                found.append(Panel(name, str(panel.get("title", "")), str(panel.get("description", "")), exprs))
    return found


# Grafana's built-in variables, replaced by values Prometheus accepts before checking.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def concrete(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    if "$" in expr:
        raise StackyardError(f"dashboard expression uses a template variable: {expr!r}",
                             f"use only {', '.join(GRAFANA_VARIABLES)} (or extend GRAFANA_VARIABLES)")
    return expr


def panel_expressions(root: Path) -> list[Expression]:
    return [Expression(f"{p.dashboard}: {p.title}", concrete(expr)) for p in dashboard_panels(root) for expr in p.exprs]


def dashboard_rules_text(root: Path) -> str:
    """Every panel expression as a recording rule, so promtool parses them like the rules."""
    rules = [{"record": f"dashboard:panel_{index}", "expr": item.expr}
             for index, item in enumerate(panel_expressions(root))]
    return dump_yaml({"groups": [{"name": "dashboard-expressions", "rules": rules}]},
                     "# RENDERED by `inv monitoring.check`: dashboard panel queries, parsed by promtool.\n")
