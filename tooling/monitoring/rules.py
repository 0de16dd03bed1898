"""The committed rule files under deploy/monitoring/rules: their rules, expressions, alerts and
recorded names."""

from pathlib import Path
from typing import Any

import yaml

from tooling.monitoring.layout import RULES_DIR
from tooling.monitoring.promql import Expression


def rule_files(root: Path) -> list[Path]:
    return sorted((root / RULES_DIR).glob("*.rules.yml"))


def load_rules(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text()) or {}
    return [rule for group in data.get("groups", []) for rule in group.get("rules", [])]


def rule_expressions(root: Path) -> list[Expression]:
    found = []
    for path in rule_files(root):
        for rule in load_rules(path):
            name = rule.get("alert") or rule.get("record")
            found.append(Expression(f"{path.relative_to(root)}: {name}", str(rule["expr"])))
    return found


def recorded_names(root: Path) -> set[str]:
    return {str(rule["record"]) for path in rule_files(root) for rule in load_rules(path) if "record" in rule}


def alert_rules(root: Path) -> list[dict[str, Any]]:
    return [rule for path in rule_files(root) for rule in load_rules(path) if "alert" in rule]
