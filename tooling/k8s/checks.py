"""Check 2: our own semantic checks of one rendering — what a schema cannot see.

Services select pods and target ports those pods expose; HPAs point at something that exists,
leave its replicas alone and can compute their metric (requests, prometheus-adapter rules);
disruption budgets and network policies select pods; and every container (checks_containers.py)
has a built or pinned image, configuration its service reads, probes that hit and time to drain.
"""

import re
from collections.abc import Mapping
from typing import Any

import yaml

from tooling.k8s.checks_base import (
    container_ports,
    fmt_labels,
    fmt_ports,
    labels_match,
    pod_labels,
    pod_spec,
    selector_matches,
)
from tooling.k8s.checks_containers import ContainerChecks
from tooling.k8s.problems import Problem, subject_of
from tooling.k8s.rendering import Rendering


class _Checker(ContainerChecks):
    """Every semantic check of one rendering; `run()` returns what they found."""

    def __init__(self, rendering: Rendering, adapter_metrics: frozenset[str] | None) -> None:
        super().__init__(rendering)
        self.adapter_metrics = adapter_metrics

    def run(self) -> list[Problem]:
        self.services()
        self.autoscalers()
        self.budgets_and_policies()
        for workload in self.workloads():
            self.containers(workload)
        return self.problems

    # Services select pods, and their target ports exist on every pod they select.
    def services(self) -> None:
        for service in self.by_kind.get("Service", []):
            spec = service.get("spec") or {}
            selector = spec.get("selector") or {}
            if not selector:
                continue  # a selector-less Service is managed by hand (EndpointSlices): nothing to match
            namespace = (service.get("metadata") or {}).get("namespace")
            matched = [w for w in self.workloads(namespace) if labels_match(selector, pod_labels(w))]
            if not matched:
                known = sorted({pod_labels(w).get("app.kubernetes.io/name", "?") for w in self.workloads(namespace)})
                self.add(service, f"selector {fmt_labels(selector)} matches no pod template in this namespace "
                                  f"(pods here are app.kubernetes.io/name={', '.join(known) or 'none'})")
                continue
            ports = {str(p.get("port")) for p in spec.get("ports") or []}
            for port in spec.get("ports") or []:
                target = str(port.get("targetPort", port.get("port")))
                for workload in matched:
                    containers = pod_spec(workload).get("containers") or []
                    if not any(target in container_ports(c) for c in containers):
                        self.add(service, f"port {port.get('name', port.get('port'))} targets {target}, which no "
                                          f"container of {subject_of(workload)} exposes "
                                          f"({'; '.join(fmt_ports(c) for c in containers)})")
            annotated = ((service.get("metadata") or {}).get("annotations") or {}).get("prometheus.io/port")
            if annotated is not None and str(annotated) not in ports | {
                    str(p.get("targetPort")) for p in spec.get("ports") or []}:
                self.add(service, f"prometheus.io/port {annotated} is no port of this Service "
                                  f"({', '.join(sorted(ports))})")

    # HPAs point at something that exists, leave its replicas alone and can compute their metric.
    def autoscalers(self) -> None:
        for hpa in self.by_kind.get("HorizontalPodAutoscaler", []):
            spec = hpa.get("spec") or {}
            namespace = (hpa.get("metadata") or {}).get("namespace")
            ref = spec.get("scaleTargetRef") or {}
            target = self.find(str(ref.get("kind")), str(ref.get("name")), namespace)
            if target is None:
                self.add(hpa, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} does not exist in this render")
                continue
            if "replicas" in (target.get("spec") or {}):
                self.add(target, f"sets spec.replicas ({target['spec']['replicas']}) but {subject_of(hpa)} manages "
                                 "its replica count: remove spec.replicas (every apply would reset the HPA's choice)")
            if int(spec.get("minReplicas", 1)) > int(spec.get("maxReplicas", 0)):
                self.add(hpa, f"minReplicas {spec.get('minReplicas')} > maxReplicas {spec.get('maxReplicas')}")
            for metric in spec.get("metrics") or []:
                self.metric(hpa, target, metric, namespace)

    def metric(self, hpa: dict[str, Any], target: dict[str, Any], metric: Mapping[str, Any],
               namespace: str | None) -> None:
        kind = metric.get("type")
        if kind in ("Resource", "ContainerResource"):
            body = metric.get("resource") or metric.get("containerResource") or {}
            resource = body.get("name")
            if (body.get("target") or {}).get("type") != "Utilization":
                return
            for container in pod_spec(target).get("containers") or []:
                if kind == "ContainerResource" and container.get("name") != body.get("container"):
                    continue
                requests = (container.get("resources") or {}).get("requests") or {}
                if resource not in requests:
                    self.add(target, f"container {container.get('name')} has no {resource} request, which "
                                     f"{subject_of(hpa)}'s {resource} Utilization target needs (without it the HPA "
                                     "cannot compute utilization and never scales)")
        elif kind in ("Object", "Pods", "External"):
            body = metric.get(str(kind).lower()) or {}
            name = (body.get("metric") or {}).get("name")
            if kind == "Object":
                described = body.get("describedObject") or {}
                if self.find(str(described.get("kind")), str(described.get("name")), namespace) is None:
                    self.add(hpa, f"Object metric {name} describes {described.get('kind')}/{described.get('name')}, "
                                  "which does not exist in this render")
            if self.adapter_metrics is not None and kind != "External" and name not in self.adapter_metrics:
                self.add(hpa, f"custom metric {name} is served by no prometheus-adapter rule "
                              f"(addons/prometheus-adapter/config.yaml serves: "
                              f"{', '.join(sorted(self.adapter_metrics)) or 'nothing'})")

    def budgets_and_policies(self) -> None:
        for budget in self.by_kind.get("PodDisruptionBudget", []):
            namespace = (budget.get("metadata") or {}).get("namespace")
            selector = (budget.get("spec") or {}).get("selector") or {}
            if not any(selector_matches(selector, pod_labels(w)) for w in self.workloads(namespace)):
                self.add(budget, f"selector {fmt_labels(selector.get('matchLabels') or {})} matches no pod template")
        for policy in self.by_kind.get("NetworkPolicy", []):
            namespace = (policy.get("metadata") or {}).get("namespace")
            selector = (policy.get("spec") or {}).get("podSelector") or {}
            if selector and not any(selector_matches(selector, pod_labels(w)) for w in self.workloads(namespace)):
                self.add(policy, f"podSelector {fmt_labels(selector.get('matchLabels') or {})} "
                                 "matches no pod template")


def adapter_metrics(addons: Rendering) -> frozenset[str]:
    """The custom metric names prometheus-adapter's rules serve (their `name.as`, or the series)."""
    names: set[str] = set()
    for obj in addons.objects:
        if obj.get("kind") != "ConfigMap" or not str(obj["metadata"]["name"]).startswith("prometheus-adapter-config"):
            continue
        config = yaml.safe_load((obj.get("data") or {}).get("config.yaml", "")) or {}
        for rule in config.get("rules") or []:
            alias = (rule.get("name") or {}).get("as")
            series = re.match(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)", str(rule.get("seriesQuery", "")))
            if alias:
                names.add(str(alias))
            elif series:
                names.add(series.group(1))
    return frozenset(names)


def semantic_problems(rendering: Rendering, adapter: frozenset[str] | None = None) -> list[Problem]:
    return _Checker(rendering, adapter).run()
