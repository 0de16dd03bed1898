"""Monitoring as code: SLO rules generated from one spec, configs rendered per stage, and checks.

- `slo_rules(scale)` generates the multi-window burn-rate rules (SRE workbook) for every SLO in
  `SLOS`; deploy/monitoring/rules/slo.rules.yml is its output at scale 1 (`inv monitoring.generate`),
  and a test keeps the two identical. A stage may compress time (`monitoring.slo_time_scale`):
  every window and `for:` is divided by the scale while rule and alert names keep the nominal
  windows, so dashboards, routes and tests read the same names in every stage.
- `render_compose(...)` writes what `inv up --monitoring` mounts: prometheus.yml with the stage's
  intervals, the rules (SLO rules scaled), alertmanager.yml with the stage's grouping timings.
- `metric_names(expr)` finds the metric names a PromQL expression reads; `exposed_metrics(...)`
  derives what the services expose from their prometheus_client definitions; `check_names(...)`
  reports every rule or panel expression that reads anything else.
- `run_checks(...)` runs promtool and amtool inside the project's Prometheus and Alertmanager
  images (the same versions that run the stack), plus the metric-name check.
"""

import ast
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tooling import images
from tooling.cli import docker as docker_cli
from tooling.cli.run import CommandError, run
from tooling.config import StackConfig
from tooling.errors import StackyardError

MONITORING_DIR = "deploy/monitoring"
RULES_DIR = f"{MONITORING_DIR}/rules"
RULE_TESTS_DIR = f"{RULES_DIR}/tests"
SLO_RULES_FILE = f"{RULES_DIR}/slo.rules.yml"
PROMETHEUS_COMPOSE = f"{MONITORING_DIR}/prometheus/prometheus.compose.yml"
PROMETHEUS_KUBERNETES = f"{MONITORING_DIR}/kubernetes/prometheus.yml"
ALERTMANAGER_CONFIG = f"{MONITORING_DIR}/alertmanager/alertmanager.yml"
DASHBOARDS_DIR = f"{MONITORING_DIR}/grafana/dashboards"
RUNBOOKS_DIR = "docs/runbooks"
SERVICES_SOURCE = "services/stackyard"
PROFILE = "monitoring"
GRAFANA_PROFILE = "grafana"
COMPOSE_SERVICES = ("prometheus", "alertmanager", "alert-receiver")
INFRA = ("prometheus", "alertmanager")  # infrastructure images the monitoring profile needs

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

# ---------------------------------------------------------------------------------------------
# Durations


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")


def seconds(duration: str) -> float:
    match = _DURATION.match(duration)
    if not match:
        raise StackyardError(f"{duration!r} is not a Prometheus duration", "write it like 30s, 5m, 1h or 3d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def duration(value: float) -> str:
    """The shortest exact Prometheus duration for `value` seconds (whole seconds, at least 1s)."""
    whole = max(1, round(value))
    for unit in ("d", "h", "m"):
        size = int(_UNITS[unit])
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def scaled(window: str, scale: int) -> str:
    return window if scale == 1 else duration(seconds(window) / scale)


# ---------------------------------------------------------------------------------------------
# SLOs and their burn-rate rules


@dataclass(frozen=True)
class Slo:
    name: str            # label value, e.g. task-availability
    alert: str           # alert name prefix, e.g. TaskAvailability
    objective: float     # e.g. 0.995: 99.5 % of events good
    summary: str
    errors: str          # PromQL of bad events per second over the window $w
    total: str           # PromQL of all events per second over the window $w

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 10)


ACCEPT = 'service="gateway",route="/v1/tasks",method="POST"'
SLOS = (
    Slo(
        name="task-availability", alert="TaskAvailability", objective=0.995,
        summary="tasks accepted by the gateway that end completed",
        # A task fails the user when its submission errors (5xx) or when it is accepted and then
        # ends failed: a dead model never shows at the gateway, only in task outcomes.
        errors=(f'(sum(rate(http_requests_total{{{ACCEPT},status=~"5.."}}[$w])) or vector(0))'
                ' + (sum(rate(stackyard_tasks_finished_total{status="failed"}[$w])) or vector(0))'),
        total=f'sum(rate(http_requests_total{{{ACCEPT},status=~"2..|5.."}}[$w]))',
    ),
    Slo(
        name="task-acceptance-latency", alert="TaskAcceptanceLatency", objective=0.99,
        summary="task submissions (POST /v1/tasks) answered within 500 ms",
        errors=(f'sum(rate(http_request_duration_seconds_count{{{ACCEPT}}}[$w]))'
                f' - sum(rate(http_request_duration_seconds_bucket{{{ACCEPT},le="0.5"}}[$w]))'),
        total=f'sum(rate(http_request_duration_seconds_count{{{ACCEPT}}}[$w]))',
    ),
)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class BurnAlert:
    severity: str
    pairs: tuple[tuple[float, str, str], ...]   # (burn-rate factor, long window, short window)
    for_: str
    speed: str


BURN_ALERTS = (
    BurnAlert("page", ((14.4, "1h", "5m"), (6, "6h", "30m")), "2m", "fast"),
    BurnAlert("ticket", ((3, "1d", "2h"), (1, "3d", "6h")), "15m", "slow"),
)


def slo_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


def burn_alert_name(slo: Slo, alert: BurnAlert) -> str:
    return f"{slo.alert}BurnRate{alert.severity.capitalize()}"


def _runbook(alert: str) -> str:
    return f"{RUNBOOKS_DIR}/{alert}.md"


def slo_rules(scale: int = 1) -> dict[str, Any]:
    """Recording rules (error ratio per window) and page/ticket alerts for every SLO."""
    groups = []
    for slo in SLOS:
        rules: list[dict[str, Any]] = []
        for window in WINDOWS:
            w = scaled(window, scale)
            rules.append({
                "record": slo_record(window),
                "expr": f"({slo.errors.replace('$w', w)})\n/\n({slo.total.replace('$w', w)})\n",
                "labels": {"slo": slo.name},
            })
        for alert in BURN_ALERTS:
            name = burn_alert_name(slo, alert)
            terms = [f'{slo_record(long)}{{slo="{slo.name}"}} > ({factor} * {slo.budget})\n'
                     f'and\n{slo_record(short)}{{slo="{slo.name}"}} > ({factor} * {slo.budget})'
                     for factor, long, short in alert.pairs]
            windows = " or ".join(f"{factor}× over {long} and {short}" for factor, long, short in alert.pairs)
            rules.append({
                "alert": name,
                "expr": "(\n" + "\n)\nor\n(\n".join(terms) + "\n)\n",
                "for": scaled(alert.for_, scale),
                "labels": {"severity": alert.severity, "slo": slo.name},
                "annotations": {
                    "summary": f"{slo.name}: error budget burning {alert.speed} ({alert.severity})",
                    "description": (f"SLO {slo.objective:.1%} of {slo.summary}: the error ratio is above "
                                    f"the burn-rate threshold ({windows}; budget {slo.budget:.2%}). "
                                    "See the overview dashboard's SLO panels for the ratio now."),
                    "runbook_url": _runbook(name),
                },
            })
        groups.append({"name": f"slo-{slo.name}", "rules": rules})
    return {"groups": groups}


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any, header: str = "") -> str:
    body = yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, width=120, allow_unicode=True)
    return header + body


SLO_HEADER = ("# GENERATED by `inv monitoring.generate` from SLOS in tooling/monitoring.py — edit there.\n"
              "# Multi-window burn-rate alerts (SRE workbook): page at 14.4× over 1h with 5m and 6× over\n"
              "# 6h with 30m; ticket at 3× over 1d with 2h and 1× over 3d with 6h.\n")


def slo_rules_text(scale: int = 1) -> str:
    header = SLO_HEADER if scale == 1 else (
        f"# RENDERED for a time-compressed stage: windows and `for:` divided by {scale}; names keep\n"
        "# the nominal windows. Never deploy this file: the production rules are rules/slo.rules.yml.\n")
    return dump_yaml(slo_rules(scale), header)


# ---------------------------------------------------------------------------------------------
# PromQL: the metric names an expression reads


_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<duration>\d+(?:ms|s|m|h|d|w|y)\b)
  | (?P<number>(?:0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
  | (?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},@])
  | (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
""", re.VERBOSE)
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
                 "count_values", "group"}
_KEYWORDS = _LABEL_LISTS | _AGGREGATIONS | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
                                            "start", "end"}


def _tokens(expr: str) -> Iterator[tuple[str, str]]:
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if not match or match.end() == position:
            raise StackyardError(f"cannot read PromQL at {expr[position:position + 20]!r} in {expr!r}",
                                 "fix the expression")
        position = match.end()
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            yield kind, match.group()


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are neither functions, keywords,
    label names inside {...} nor labels listed after by/without/on/ignoring/group_*."""
    tokens = list(_tokens(expr))
    names: set[str] = set()
    braces = 0
    skip_list = False
    depth_at_list: int | None = None
    parens = 0
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if text == "{":
            braces += 1
        elif text == "}":
            braces -= 1
        elif text == "(":
            parens += 1
            if skip_list:
                depth_at_list, skip_list = parens, False
        elif text == ")":
            if depth_at_list == parens:
                depth_at_list = None
            parens -= 1
        elif kind == "ident" and braces == 0 and depth_at_list is None:
            if text in _LABEL_LISTS:
                skip_list = following == "("
            elif text in _KEYWORDS or following == "(":
                continue
            else:
                names.add(text)
    return names


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


# ---------------------------------------------------------------------------------------------
# Where the expressions are: rule files and dashboards


@dataclass(frozen=True)
class Expression:
    where: str
    expr: str


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


def dashboard_rules_text(root: Path) -> str:
    """Every panel expression as a recording rule, so promtool parses them like the rules."""
    rules = [{"record": f"dashboard:panel_{index}", "expr": item.expr}
             for index, item in enumerate(panel_expressions(root))]
    return dump_yaml({"groups": [{"name": "dashboard-expressions", "rules": rules}]},
                     "# RENDERED by `inv monitoring.check`: dashboard panel queries, parsed by promtool.\n")


# ---------------------------------------------------------------------------------------------
# Rendering what `inv up --monitoring` mounts


def rendered_dir(config: StackConfig) -> str:
    """Relative to the repository root (compose resolves it against the project directory)."""
    return f".stackyard/monitoring/{config.compose.project_name}"


def prometheus_compose_config(root: Path, config: StackConfig) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / PROMETHEUS_COMPOSE).read_text())
    data["global"]["scrape_interval"] = config.monitoring.scrape_interval
    data["global"]["evaluation_interval"] = config.monitoring.evaluation_interval
    data["global"].setdefault("external_labels", {})["stage"] = config.stage
    return data


def alertmanager_config(root: Path, config: StackConfig) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((root / ALERTMANAGER_CONFIG).read_text())
    data["route"]["group_wait"] = config.monitoring.group_wait
    data["route"]["group_interval"] = config.monitoring.group_interval
    return data


def render_compose(root: Path, config: StackConfig, target: Path | None = None) -> Path:
    """Write prometheus.yml, rules/ and alertmanager.yml for this stage; return the directory
    (default: the one `inv up --monitoring` mounts for this compose project)."""
    target = target or root / rendered_dir(config)
    shutil.rmtree(target, ignore_errors=True)
    (target / "rules").mkdir(parents=True)
    header = f"# RENDERED by `inv up --monitoring` for stage {config.stage} from {MONITORING_DIR}/ — do not edit\n"
    (target / "prometheus.yml").write_text(dump_yaml(prometheus_compose_config(root, config), header))
    (target / "alertmanager.yml").write_text(dump_yaml(alertmanager_config(root, config), header))
    for path in rule_files(root):
        text = path.read_text()
        if path.name == Path(SLO_RULES_FILE).name:
            text = slo_rules_text(config.monitoring.slo_time_scale)
        (target / "rules" / path.name).write_text(text)
    for path in [target, target / "rules", *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # read by the containers' non-root users
    return target


def compose_env(config: StackConfig, base_image: str) -> dict[str, str]:
    m = config.monitoring
    return {
        "STACKYARD_MONITORING_DIR": f"./{rendered_dir(config)}",
        "STACKYARD_BASE_IMAGE": base_image,
        "STACKYARD_GRAFANA_IMAGE": config.images.upstream.grafana,
        "STACKYARD_PROMETHEUS_PORT": str(m.prometheus_port),
        "STACKYARD_ALERTMANAGER_PORT": str(m.alertmanager_port),
        "STACKYARD_RECEIVER_PORT": str(m.receiver_port),
        "STACKYARD_GRAFANA_PORT": str(m.grafana_port),
    }


def urls(config: StackConfig, grafana: bool) -> dict[str, str]:
    m = config.monitoring
    found = {
        "prometheus": f"http://localhost:{m.prometheus_port}",
        "alertmanager": f"http://localhost:{m.alertmanager_port}",
        "alert_receiver": f"http://localhost:{m.receiver_port}/notifications",
    }
    if grafana:
        found["grafana"] = f"http://localhost:{m.grafana_port}"
    return found


# ---------------------------------------------------------------------------------------------
# Checks: promtool and amtool in the project's images, and the metric names


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    argv: list[str] = field(default_factory=list)


CHECK_TIMEOUT = 120.0


def _in_image(image: str, tool: str, mounts: dict[Path, str], args: list[str]) -> list[str]:
    argv = ["docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--entrypoint", tool]
    for source, target in mounts.items():
        argv += ["-v", f"{source}:{target}:ro"]
    return [*argv, image, *args]


def _run_check(name: str, argv: list[str]) -> CheckResult:
    try:
        output = run(argv, timeout=CHECK_TIMEOUT)
        return CheckResult(name, True, output.strip()[-2000:], argv)
    except CommandError as error:
        detail = (error.stderr.strip() or str(error))[-4000:]
        return CheckResult(name, False, detail, argv)


def prepare_check_dir(root: Path) -> Path:
    """Files the checks read besides the committed ones: panel queries as rules, the stage's
    rendered variant, and stand-in service-account files the cluster config names."""
    work = root / ".stackyard" / "monitoring-check"
    shutil.rmtree(work, ignore_errors=True)
    (work / "dashboards").mkdir(parents=True)
    (work / "dashboards" / "dashboards.rules.yml").write_text(dashboard_rules_text(root))
    account = work / "serviceaccount"
    account.mkdir()
    for name in ("token", "ca.crt", "namespace"):
        (account / name).write_text("stand-in for promtool check config\n")
    (work / "kubernetes-static.yml").write_text(dump_yaml(without_kubernetes_sd(
        yaml.safe_load((root / PROMETHEUS_KUBERNETES).read_text()))))
    for path in [work, *work.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return work


KUBERNETES_SD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}
NO_KUBERNETES_SD = "field kubernetes_sd_configs not found"


def without_kubernetes_sd(config: dict[str, Any]) -> dict[str, Any]:
    """The cluster config with each kubernetes_sd_configs block checked here and swapped for a
    static target: Debian's Prometheus is built without Kubernetes discovery, so its promtool
    rejects the block while everything else (relabelling, TLS, credentials, rules) still needs
    checking."""
    for job in config.get("scrape_configs", []):
        blocks = job.pop("kubernetes_sd_configs", None)
        if blocks is None:
            continue
        bad = [b.get("role") for b in blocks if b.get("role") not in KUBERNETES_SD_ROLES]
        if bad:
            raise StackyardError(f"job {job.get('job_name')}: unknown kubernetes_sd_configs role(s) {bad}",
                                 f"use one of {sorted(KUBERNETES_SD_ROLES)}")
        job["static_configs"] = [{"targets": ["kubernetes-sd.invalid:80"]}]
    return config


def check_commands(root: Path, prometheus_image: str, alertmanager_image: str,
                   work: Path, rendered: dict[str, Path]) -> list[tuple[str, list[str]]]:
    monitoring = root / MONITORING_DIR
    rules = root / RULES_DIR
    account = "/var/run/secrets/kubernetes.io/serviceaccount"
    commands = [
        ("promtool check config (compose)", _in_image(
            prometheus_image, "promtool",
            {monitoring / "prometheus/prometheus.compose.yml": "/etc/prometheus/prometheus.yml",
             rules: "/etc/prometheus/rules"},
            ["check", "config", "/etc/prometheus/prometheus.yml"])),
        ("promtool check config (kubernetes)", _in_image(
            prometheus_image, "promtool",
            {monitoring / "kubernetes/prometheus.yml": "/etc/prometheus/prometheus.yml",
             rules: "/etc/prometheus/rules", work / "serviceaccount": account},
            ["check", "config", "/etc/prometheus/prometheus.yml"])),
        ("promtool check rules (rules and dashboard queries)", _in_image(
            prometheus_image, "promtool", {rules: "/rules", work / "dashboards": "/dashboards"},
            ["check", "rules", *(f"/rules/{p.name}" for p in rule_files(root)),
             "/dashboards/dashboards.rules.yml"])),
        ("promtool test rules", _in_image(
            prometheus_image, "promtool", {monitoring: "/monitoring"},
            ["test", "rules", *(f"/monitoring/rules/tests/{p.name}"
                                for p in sorted((root / RULE_TESTS_DIR).glob("*.test.yml")))])),
        ("amtool check-config", _in_image(
            alertmanager_image, "amtool", {monitoring / "alertmanager": "/etc/alertmanager"},
            ["check-config", "/etc/alertmanager/alertmanager.yml"])),
    ]
    for stage, directory in rendered.items():
        commands += [
            (f"promtool check config (as rendered for stage {stage})", _in_image(
                prometheus_image, "promtool",
                {directory / "prometheus.yml": "/etc/prometheus/prometheus.yml",
                 directory / "rules": "/etc/prometheus/rules"},
                ["check", "config", "/etc/prometheus/prometheus.yml"])),
            (f"amtool check-config (as rendered for stage {stage})", _in_image(
                alertmanager_image, "amtool", {directory / "alertmanager.yml": "/etc/alertmanager/alertmanager.yml"},
                ["check-config", "/etc/alertmanager/alertmanager.yml"])),
        ]
    return commands


def static_checks(root: Path) -> list[CheckResult]:
    """The checks that need no tool: names in every expression, generated file in sync, runbooks."""
    results = []
    try:
        expressions = [*rule_expressions(root), *panel_expressions(root)]
        problems = check_names(expressions, known_metrics(root))
        results.append(CheckResult(f"PromQL metric names ({len(expressions)} expressions)", not problems,
                                   "\n".join(problems)))
    except StackyardError as error:
        results.append(CheckResult("PromQL metric names", False, str(error)))
    in_sync = (root / SLO_RULES_FILE).read_text() == slo_rules_text()
    results.append(CheckResult("slo.rules.yml matches its spec", in_sync,
                               "" if in_sync else "run `inv monitoring.generate` and commit the result"))
    missing = [str(rule["alert"]) for rule in alert_rules(root)
               if not (root / str(rule.get("annotations", {}).get("runbook_url", "-"))).is_file()]
    results.append(CheckResult("every alert's runbook exists", not missing,
                               "" if not missing else f"no runbook for: {', '.join(missing)}"))
    return results


def run_checks(root: Path, configs: dict[str, StackConfig], prometheus_image: str,
               alertmanager_image: str) -> list[CheckResult]:
    """Every check; `configs` are the stages whose rendered compose variant is checked too."""
    results = static_checks(root)
    work = prepare_check_dir(root)
    rendered = {stage: render_compose(root, config, work / f"rendered-{stage}") for stage, config in configs.items()}
    for name, argv in check_commands(root, prometheus_image, alertmanager_image, work, rendered):
        result = _run_check(name, argv)
        if not result.ok and NO_KUBERNETES_SD in result.detail:
            swapped = [f"{work / 'kubernetes-static.yml'}:/etc/prometheus/prometheus.yml:ro"
                       if a.startswith(str(root / PROMETHEUS_KUBERNETES) + ":") else a for a in argv]
            result = _run_check(f"{name}: this promtool lacks Kubernetes discovery, so the SD blocks were "
                                "checked here and swapped for static targets", swapped)
        results.append(result)
    return results


def ensure_check_images(config: StackConfig, root: Path) -> tuple[str, str]:
    """The Prometheus and Alertmanager images of this tree (built from Debian's packages, or
    pulled upstream), which carry the promtool and amtool the checks run."""
    docker = docker_cli.client()
    os.environ.update(docker_cli.buildkit_env())
    plan = images.make_plan(config, root, images.resolve_source(config, docker, root), tag="-")
    images.ensure_base(plan, config, docker, root)
    images.ensure_infra(plan, docker, root, INFRA)
    return plan.infra["prometheus"], plan.infra["alertmanager"]


def report(results: list[CheckResult]) -> str:
    lines = []
    for result in results:
        lines.append(f"{'✓' if result.ok else '✗'} {result.name}")
        if not result.ok and result.detail:
            lines += [f"    {line}" for line in result.detail.splitlines()]
    return "\n".join(lines)


def profiles(config: StackConfig, image_present: bool) -> tuple[list[str], str]:
    """The compose profiles for `inv up --monitoring`, and a line saying what about Grafana."""
    ref = config.images.upstream.grafana
    mode = config.monitoring.grafana
    if mode == "never":
        return [PROFILE], "Grafana: never (monitoring.grafana)"
    if mode == "always" and not image_present:
        raise StackyardError(f"monitoring.grafana is `always` but the image {ref} is not present",
                             f"`docker pull {ref}` (or load it) first, or set monitoring.grafana: auto")
    if image_present:
        return [PROFILE, GRAFANA_PROFILE], f"Grafana: {ref}"
    return [PROFILE], (f"Grafana: skipped, {ref} is not present (no registry?); the dashboards are still "
                       "checked offline by `inv monitoring.check`")
