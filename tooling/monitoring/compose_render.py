"""The monitoring profile of the compose stack: what `inv up --monitoring` mounts, rendered per
stage (prometheus.yml with the stage's intervals, the rules with the SLO rules scaled,
alertmanager.yml with the stage's grouping timings), its environment, profiles and URLs."""

import shutil
from pathlib import Path
from typing import Any

import yaml

from tooling.config import StackConfig
from tooling.errors import StackyardError
from tooling.monitoring.layout import ALERTMANAGER_CONFIG, MONITORING_DIR, PROMETHEUS_COMPOSE, SLO_RULES_FILE
from tooling.monitoring.rules import rule_files
from tooling.monitoring.slo import slo_rules_text
from tooling.monitoring.yaml_dump import dump_yaml

PROFILE = "monitoring"
GRAFANA_PROFILE = "grafana"
COMPOSE_SERVICES = ("prometheus", "alertmanager", "alert-receiver")
INFRA = ("prometheus", "alertmanager")  # infrastructure images the monitoring profile needs


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
