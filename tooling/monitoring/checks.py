"""`inv monitoring.check`: promtool and amtool, offline inside the project's Prometheus and
Alertmanager images, on the committed and the rendered configs; and the checks that need no
tool (metric names, the generated SLO rules in sync, a runbook for every alert)."""

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tooling.cli import docker as docker_cli
from tooling.config import StackConfig
from tooling.errors import CommandError, StackyardError
from tooling.monitoring.compose_render import render_compose
from tooling.monitoring.grafana_dashboards import dashboard_rules_text, panel_expressions
from tooling.monitoring.layout import MONITORING_DIR, PROMETHEUS_KUBERNETES, RULE_TESTS_DIR, RULES_DIR, SLO_RULES_FILE
from tooling.monitoring.metric_sources import check_names, known_metrics
from tooling.monitoring.rules import alert_rules, rule_expressions, rule_files
from tooling.monitoring.slo import slo_rules_text
from tooling.monitoring.yaml_dump import dump_yaml


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    argv: list[str] = field(default_factory=list)


CHECK_TIMEOUT = 120.0
KUBERNETES_SD_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}
NO_KUBERNETES_SD = "field kubernetes_sd_configs not found"


def _run_check(name: str, argv: list[str]) -> CheckResult:
    try:
        output = docker_cli.run_offline_tool(argv, timeout=CHECK_TIMEOUT)
        return CheckResult(name, True, output.strip()[-2000:], argv)
    except CommandError as error:
        detail = (error.stderr.strip() or str(error))[-4000:]
        return CheckResult(name, False, detail, argv)


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


def check_commands(root: Path, prometheus_image: str, alertmanager_image: str,
                   work: Path, rendered: dict[str, Path]) -> list[tuple[str, list[str]]]:
    monitoring = root / MONITORING_DIR
    rules = root / RULES_DIR
    account = "/var/run/secrets/kubernetes.io/serviceaccount"
    in_image = docker_cli.offline_tool_argv
    commands = [
        ("promtool check config (compose)", in_image(
            prometheus_image, "promtool",
            {monitoring / "prometheus/prometheus.compose.yml": "/etc/prometheus/prometheus.yml",
             rules: "/etc/prometheus/rules"},
            ["check", "config", "/etc/prometheus/prometheus.yml"])),
        ("promtool check config (kubernetes)", in_image(
            prometheus_image, "promtool",
            {monitoring / "kubernetes/prometheus.yml": "/etc/prometheus/prometheus.yml",
             rules: "/etc/prometheus/rules", work / "serviceaccount": account},
            ["check", "config", "/etc/prometheus/prometheus.yml"])),
        ("promtool check rules (rules and dashboard queries)", in_image(
            prometheus_image, "promtool", {rules: "/rules", work / "dashboards": "/dashboards"},
            ["check", "rules", *(f"/rules/{p.name}" for p in rule_files(root)),
             "/dashboards/dashboards.rules.yml"])),
        ("promtool test rules", in_image(
            prometheus_image, "promtool", {monitoring: "/monitoring"},
            ["test", "rules", *(f"/monitoring/rules/tests/{p.name}"
                                for p in sorted((root / RULE_TESTS_DIR).glob("*.test.yml")))])),
        ("amtool check-config", in_image(
            alertmanager_image, "amtool", {monitoring / "alertmanager": "/etc/alertmanager"},
            ["check-config", "/etc/alertmanager/alertmanager.yml"])),
    ]
    for stage, directory in rendered.items():
        commands += [
            (f"promtool check config (as rendered for stage {stage})", in_image(
                prometheus_image, "promtool",
                {directory / "prometheus.yml": "/etc/prometheus/prometheus.yml",
                 directory / "rules": "/etc/prometheus/rules"},
                ["check", "config", "/etc/prometheus/prometheus.yml"])),
            (f"amtool check-config (as rendered for stage {stage})", in_image(
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


def report(results: list[CheckResult]) -> str:
    lines = []
    for result in results:
        lines.append(f"{'✓' if result.ok else '✗'} {result.name}")
        if not result.ok and result.detail:
            lines += [f"    {line}" for line in result.detail.splitlines()]
    return "\n".join(lines)
