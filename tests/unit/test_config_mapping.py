"""The one mapping: every settings field declared once, and every mapped key reaching every reader
on every target — compose as `docker compose config` resolves it, and kind, staging and
production as kustomize renders them."""

import shutil
from pathlib import Path
from typing import Any

import pytest

from tooling import compose, compose_env, config, images, k8s
from tooling.config import mapping

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("compose", *k8s.OVERLAYS)

# A value per mapped key, each different from every stage's; a new key needs one here.
VALUES = {
    "log_level": "DEBUG",
    "gateway.require_api_key": "false",
    "gateway.max_body_bytes": "4711",
    "gateway.max_input_chars": "4711",
    "gateway.max_backlog": "4711",
    "gateway.rate_limit_per_second": "4711",
    "model.name": "model-4711",
    "model.first_token_ms": "47.11",
    "model.tokens_per_second": "47.11",
    "model.cpu_ms_per_token": "47.11",
    "worker.concurrency": "47",
    "worker.failure_rate": "0.4711",
    "worker.poison_input": "poison-4711",
    "worker.step_timeout_seconds": "47.11",
    "worker.history_window": "47",
    "delivery.claim_idle_ms": "4711",
    "delivery.max_deliveries": "4711",
    "delivery.task_timeout_seconds": "47.11",
}
ENVIRON = {config.env_variable(key): value for key, value in VALUES.items()}


def _expected(setting: mapping.Setting, target: str) -> str:
    # The stage is the one key chosen by the command (--stage), not by a variable.
    if setting.key == "stage":
        return "dev" if target == "compose" else target
    return VALUES[setting.key]


def _container_envs(rendering: k8s.Rendering) -> dict[str, dict[str, str]]:
    """component → its container's environment as rendered (ConfigMaps by envFrom, then env)."""
    maps = {o["metadata"]["name"]: o.get("data") or {} for o in rendering.objects if o["kind"] == "ConfigMap"}
    envs: dict[str, dict[str, str]] = {}
    for obj in rendering.objects:
        if obj["kind"] != "Deployment":
            continue
        for container in obj["spec"]["template"]["spec"]["containers"]:
            env: dict[str, str] = {}
            for source in container.get("envFrom") or []:
                env.update(maps[source["configMapRef"]["name"]])
            env.update({v["name"]: v["value"] for v in container.get("env") or [] if "value" in v})
            envs[container["name"]] = env
    return envs


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """target → component → environment, every mapped key set by a STACKYARD__* variable."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    root = tmp_path_factory.mktemp("compose")
    for name in (compose.COMPOSE_FILE, *compose.EXTRA_COMPOSE_FILES):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    dev = config.load("dev", ROOT / "envs", environ=ENVIRON)
    plan = images.make_plan(dev, ROOT, "bootstrap", tag="t")
    env_file = compose_env.write(root, dev, config.Secrets(postgres_password="p"), plan)
    services = compose.resolved(root, dev, env_file)["services"]
    found["compose"] = {name: service.get("environment") or {} for name, service in services.items()}
    for overlay in k8s.OVERLAYS:
        cfg = config.load(overlay, ROOT / "envs", environ=ENVIRON)
        rendering = k8s.render(ROOT / k8s.ORCHESTRATION, overlay, cfg, images.make_plan(cfg, ROOT, "upstream", tag="t"))
        found[overlay] = _container_envs(rendering)
    return found


def test_every_mapped_key_has_a_test_value_and_a_reader() -> None:
    assert set(VALUES) == {s.key for s in mapping.SETTINGS} - {"stage"}
    for setting in mapping.SETTINGS:
        assert mapping.readers(setting.field), f"{setting.key}: no component reads {setting.field}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("setting", mapping.SETTINGS, ids=lambda s: s.key)
def test_a_key_set_by_environment_reaches_every_reader(rendered: dict[str, dict[str, dict[str, Any]]],
                                                       setting: mapping.Setting, target: str) -> None:
    for component in mapping.readers(setting.field):
        env = rendered[target][component]
        assert env.get(setting.variable) == _expected(setting, target), (
            f"{setting.key} does not reach {component} on {target}")


def test_max_backlog_4711_reaches_the_gateway_everywhere(rendered: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The issue's own example, spelled out."""
    assert ENVIRON["STACKYARD__GATEWAY__MAX_BACKLOG"] == "4711"
    assert {target: rendered[target]["gateway"]["STACKYARD_MAX_BACKLOG"] for target in TARGETS} == dict.fromkeys(
        TARGETS, "4711")


def test_every_settings_field_is_declared_exactly_once() -> None:
    declared: dict[str, list[str]] = {}
    for table, fields in (("SETTINGS", [s.field for s in mapping.SETTINGS]), ("LAYOUT", mapping.LAYOUT),
                          ("SECRETS", mapping.SECRETS), ("PER_TARGET", mapping.PER_TARGET),
                          ("SERVICE_DEFAULTS", mapping.SERVICE_DEFAULTS)):
        for field in fields:
            declared.setdefault(field, []).append(table)
    twice = {f: tables for f, tables in declared.items() if len(tables) > 1 and tables != ["SETTINGS"] * 2}
    assert not twice, f"declared in more than one table: {twice}"
    for component in mapping.COMPONENTS:
        missing = sorted(mapping.fields_of(component) - set(declared))
        assert not missing, (f"{mapping.SETTINGS_CLASSES[component]} reads {missing}, which tooling/config/"
                             "mapping.py neither maps nor declares")
    every_field = set().union(*(mapping.fields_of(c) for c in mapping.COMPONENTS))
    assert set(declared) <= every_field, f"declared but read by no service: {set(declared) - every_field}"


def _leaves(model: Any, prefix: str = "") -> list[str]:
    leaves = []
    for name, value in model:
        key = f"{prefix}{name}"
        leaves += _leaves(value, key + ".") if isinstance(value, config.schema.Strict) else [key]
    return leaves


def test_every_config_key_is_mapped_or_declared_toolkit_only() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    mapped = {s.key for s in mapping.SETTINGS}
    for key in _leaves(cfg):
        owners = [prefix for prefix in mapping.TOOLKIT_KEYS if key == prefix or key.startswith(prefix + ".")]
        assert (key in mapped) + len(owners) == 1, f"{key}: mapped={key in mapped}, toolkit-only under {owners}"


def test_compose_parity_names_key_and_service() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    secrets = config.Secrets(postgres_password="p")
    text = (ROOT / compose.COMPOSE_FILE).read_text()
    assert compose_env.parity_problems(text, cfg, secrets) == []
    shadowed = text.replace("      STACKYARD_MODEL_URL: http://model:8000\n",
                            "      STACKYARD_MODEL_URL: http://model:8000\n      STACKYARD_CONCURRENCY: '2'\n")
    assert compose_env.parity_problems(shadowed, cfg, secrets) == [
        ("worker", "worker.concurrency does not reach worker under compose: docker-compose.yml sets "
                   "STACKYARD_CONCURRENCY in `environment:`, which shadows the env file rendered from envs/ — "
                   "remove it there")]
    unloaded = text.replace('    env_file: [".stackyard/compose/${STACKYARD_PROJECT:?}/memory.env"]\n', "")
    assert compose_env.parity_problems(unloaded, cfg, secrets) == [
        ("memory", "stage, log_level, STACKYARD_DATABASE_URL do not reach memory under compose: the service does "
                   "not load .stackyard/compose/${STACKYARD_PROJECT:?}/memory.env (env_file:)")]


def test_component_env_files_are_private(tmp_path: Path) -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    plan = images.make_plan(cfg, ROOT, "bootstrap", tag="t")
    compose_env.write(tmp_path, cfg, config.Secrets(postgres_password="secret"), plan)
    files = sorted((tmp_path / compose_env.ENV_DIR / cfg.compose.project_name).iterdir())
    assert [f.name for f in files] == sorted(f"{c}.env" for c in (*mapping.COMPONENTS, "postgres"))
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    project = compose_env.env_file_path(tmp_path, cfg).read_text()
    assert "secret" not in project and "STACKYARD_MAX_BACKLOG" not in project
