"""Monitoring as code: SLO rules generated from one spec, configs rendered per stage, and checks.

Which module holds what:
- layout: where monitoring lives in the tree (deploy/monitoring, rules, dashboards, runbooks).
- durations: Prometheus durations parsed, printed and divided by a stage's time scale.
- slo: the SLOs and their multi-window burn-rate rules; deploy/monitoring/rules/slo.rules.yml is
  `slo_rules_text(1)` (`inv monitoring.generate`), and a test keeps the two identical.
- yaml_dump: YAML as the generated and rendered files are written.
- promql: `Expression` and `metric_names(expr)`, the metric names a PromQL expression reads.
- rules, grafana_dashboards: the committed rule files and dashboards, and their expressions.
- metric_sources: the names that exist (`exposed_metrics` from the services' prometheus_client
  definitions, recorded names, Prometheus's and the cluster's own) and `check_names`.
- compose_render: what `inv up --monitoring` mounts, rendered per stage, its env, profiles, URLs.
- checks: `run_checks` — promtool and amtool in the project's images, plus the static checks.
- check_images: `ensure_check_images`, the Prometheus and Alertmanager images the checks use.

The names other code uses as `monitoring.<name>` are re-exported here.
"""

from tooling.monitoring.check_images import ensure_check_images
from tooling.monitoring.checks import (
    CheckResult,
    check_commands,
    report,
    run_checks,
    static_checks,
    without_kubernetes_sd,
)
from tooling.monitoring.compose_render import (
    COMPOSE_SERVICES,
    GRAFANA_PROFILE,
    INFRA,
    PROFILE,
    compose_env,
    profiles,
    render_compose,
    urls,
)
from tooling.monitoring.durations import scaled, seconds
from tooling.monitoring.grafana_dashboards import (
    concrete,
    dashboard_panels,
    dashboard_rules_text,
    dashboards,
    panel_expressions,
)
from tooling.monitoring.layout import (
    ALERTMANAGER_CONFIG,
    MONITORING_DIR,
    PROMETHEUS_KUBERNETES,
    RULE_TESTS_DIR,
    RUNBOOKS_DIR,
    SERVICES_SOURCE,
    SLO_RULES_FILE,
)
from tooling.monitoring.metric_sources import CLUSTER_METRICS, check_names, exposed_metrics, known_metrics
from tooling.monitoring.promql import Expression, metric_names
from tooling.monitoring.rules import alert_rules, rule_expressions, rule_files
from tooling.monitoring.slo import slo_rules, slo_rules_text

__all__ = [
    "ALERTMANAGER_CONFIG", "CLUSTER_METRICS", "COMPOSE_SERVICES", "GRAFANA_PROFILE", "INFRA", "MONITORING_DIR",
    "PROFILE", "PROMETHEUS_KUBERNETES", "RULE_TESTS_DIR", "RUNBOOKS_DIR", "SERVICES_SOURCE", "SLO_RULES_FILE",
    "CheckResult", "Expression", "alert_rules", "check_commands", "check_names", "compose_env", "concrete",
    "dashboard_panels", "dashboard_rules_text", "dashboards", "ensure_check_images", "exposed_metrics",
    "known_metrics", "metric_names", "panel_expressions", "profiles", "render_compose", "report",
    "rule_expressions", "rule_files", "run_checks", "scaled", "seconds", "slo_rules", "slo_rules_text",
    "static_checks", "urls", "without_kubernetes_sd",
]
