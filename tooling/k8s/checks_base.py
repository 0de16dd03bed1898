"""What the semantic checks share: readers of rendered objects (selectors, pod templates, ports),
and `CheckerBase`, one rendering indexed by kind that collects the problems found in it."""

from collections.abc import Mapping
from typing import Any

from tooling.k8s.problems import Problem, subject_of
from tooling.k8s.rendering import Rendering

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels."""
    if not labels_match(selector.get("matchLabels") or {}, labels):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def fmt_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(empty)"


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((workload.get("spec") or {}).get("template") or {}).get("spec") or {})


def pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    return dict((((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})


def container_ports(container: Mapping[str, Any]) -> dict[str, int]:
    """name (or str(number)) → containerPort."""
    ports: dict[str, int] = {}
    for port in container.get("ports") or []:
        number = int(port["containerPort"])
        ports[str(number)] = number
        if port.get("name"):
            ports[str(port["name"])] = number
    return ports


def fmt_ports(container: Mapping[str, Any]) -> str:
    ports = [f"{p.get('name', '?')}={p['containerPort']}" for p in container.get("ports") or []]
    return ", ".join(ports) or "none"


class CheckerBase:
    def __init__(self, rendering: Rendering) -> None:
        self.rendering = rendering
        self.problems: list[Problem] = []
        self.by_kind: dict[str, list[dict[str, Any]]] = {}
        for obj in rendering.objects:
            self.by_kind.setdefault(str(obj.get("kind")), []).append(obj)

    def add(self, obj: Mapping[str, Any] | None, message: str) -> None:
        self.problems.append(Problem(self.rendering.label, subject_of(obj) if obj else "", message, "semantic"))

    def find(self, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        for obj in self.by_kind.get(kind, []):
            meta = obj.get("metadata") or {}
            if meta.get("name") == name and meta.get("namespace") == namespace:
                return obj
        return None

    def workloads(self, namespace: str | None = None) -> list[dict[str, Any]]:
        found = [w for kind in WORKLOAD_KINDS for w in self.by_kind.get(kind, [])]
        if namespace is None:
            return found
        return [w for w in found if (w.get("metadata") or {}).get("namespace") == namespace]
