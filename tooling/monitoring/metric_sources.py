"""Which metric names exist, and the expressions that read any other.

A name is known when a service defines it (found in their prometheus_client definitions, with
the suffixes the client adds), a rule records it, or Prometheus, the client's default collectors
or the cluster's exporters provide it.
"""

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from tooling.monitoring.layout import SERVICES_SOURCE
from tooling.monitoring.promql import Expression, metric_names
from tooling.monitoring.rules import recorded_names

# Series that exist without any service defining them.
PROMETHEUS_SYNTHETIC = frozenset({
    "up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
    "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE",
})
# prometheus_client's default collectors (process on Linux, gc, platform) in every service.
CLIENT_DEFAULT = frozenset({
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
    "process_open_fds", "process_max_fds", "process_start_time_seconds",
    "python_gc_objects_collected_total", "python_gc_objects_uncollectable_total", "python_gc_collections_total",
    "python_info",
})
# Cluster-only sources the cluster alerts and the autoscaling dashboard read, named explicitly:
# kube-state-metrics v2 (the old kube_hpa_* names are gone) and the kubelet's cAdvisor.
CLUSTER_METRICS = frozenset({
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_status_desired_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "kube_horizontalpodautoscaler_spec_min_replicas",
    "kube_horizontalpodautoscaler_spec_target_metric",
    "kube_horizontalpodautoscaler_status_target_metric",
    "kube_pod_container_status_waiting_reason",
    "kube_pod_container_status_restarts_total",
    "kube_deployment_status_condition",
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_updated",
    "kube_deployment_status_replicas_available",
    "kube_deployment_metadata_generation",
    "kube_deployment_status_observed_generation",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
})


def _definitions(tree: ast.AST) -> Iterator[tuple[str, str]]:
    kinds = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        kind = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0]
        if kind in kinds and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield kind, first.value


def exposed_metrics(source: Path) -> dict[str, str]:
    """Every series name the services expose → where it is defined (file), from their
    prometheus_client definitions, with the suffixes the client adds."""
    exposed: dict[str, str] = {}
    for path in sorted(source.rglob("*.py")):
        for kind, name in _definitions(ast.parse(path.read_text(), str(path))):
            where = str(path)
            if kind == "Counter":
                base = name.removesuffix("_total")
                series = [f"{base}_total", f"{base}_created"]
            elif kind == "Histogram":
                series = [name, *(f"{name}{s}" for s in ("_bucket", "_sum", "_count", "_created"))]
            elif kind == "Summary":
                series = [name, *(f"{name}{s}" for s in ("_sum", "_count", "_created"))]
            elif kind == "Info":
                series = [f"{name}_info"]
            else:
                series = [name]
            for item in series:
                exposed.setdefault(item, where)
    return exposed


def known_metrics(root: Path) -> set[str]:
    return (set(exposed_metrics(root / SERVICES_SOURCE)) | recorded_names(root) | PROMETHEUS_SYNTHETIC
            | CLIENT_DEFAULT | CLUSTER_METRICS)


def check_names(expressions: Iterable[Expression], known: set[str]) -> list[str]:
    """One line per expression that reads a metric nobody exposes or records."""
    problems = []
    for item in expressions:
        unknown = sorted(metric_names(item.expr) - known)
        if unknown:
            problems.append(f"{item.where}: reads {', '.join(unknown)}, which no service exposes and no rule records")
    return problems
