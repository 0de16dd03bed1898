"""`inv k8s.validate` as a test: every overlay passes, and each seeded mistake fails precisely.

Real kustomize (the kubectl wheel), real schemas (kubernetes-validate, offline) and real checkov;
a seeded mistake is a text edit in a copy of deploy/orchestration, rendered like the original.
"""

import fnmatch
import shutil
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tooling import config, images, k8s

ROOT = Path(__file__).resolve().parents[2]
TAG = "0123abc"


def _configs() -> dict[str, config.StackConfig]:
    return {overlay: config.load(overlay, ROOT / "envs", environ={}) for overlay in k8s.OVERLAYS}


def _plans(configs: dict[str, config.StackConfig], tag: str = TAG) -> dict[str, images.ImagePlan]:
    return {overlay: images.make_plan(cfg, ROOT, "upstream", tag=tag) for overlay, cfg in configs.items()}


@pytest.fixture(scope="session")
def report() -> k8s.Report:
    configs = _configs()
    return k8s.validate(ROOT / k8s.ORCHESTRATION, configs, _plans(configs), checkov=True)


def test_every_overlay_and_combination_passes_all_checks(report: k8s.Report) -> None:
    assert report.ok, k8s.summary(report)
    labels = {r.label for r in report.renderings}
    assert {"overlay kind", "overlay staging", "overlay production", "addons", "base",
            *(f"base+{c}" for c in k8s.COMPONENT_DIRS)} <= labels
    assert set(report.seconds) == {"render", "schemas", "semantic", "parity", "budget", "checkov"}


def test_rendered_kind_overlay_carries_config_images_and_autoscalers(report: k8s.Report) -> None:
    kind = next(r for r in report.renderings if r.label == "overlay kind")
    by = {(o["kind"], o["metadata"]["name"]): o for o in kind.objects}
    gateway = by[("Deployment", "gateway")]
    assert "replicas" not in gateway["spec"]
    assert gateway["spec"]["template"]["spec"]["containers"][0]["image"] == f"stackyard/gateway:{TAG}"
    maps = {o["metadata"]["name"].rsplit("-", 1)[0]: o["data"] for o in kind.objects if o["kind"] == "ConfigMap"}
    assert maps["stackyard-model"]["STACKYARD_FIRST_TOKEN_MS"] == "50.0"  # from envs/base.yaml
    assert maps["stackyard-gateway"]["STACKYARD_STAGE"] == "kind"
    assert maps["stackyard-gateway"]["STACKYARD_REQUIRE_API_KEY"] == "true"  # envs/kind.yaml
    hpas = {o["metadata"]["name"]: o for o in kind.objects if o["kind"] == "HorizontalPodAutoscaler"}
    assert set(hpas) == {"gateway", "memory", "model", "worker"}
    assert hpas["worker"]["spec"]["metrics"][0]["object"]["metric"]["name"] == "stackyard_steps_in_flight"
    assert all(o["metadata"].get("namespace") == "stackyard" for o in kind.objects if o["kind"] != "Namespace")
    service = by[("Service", "gateway")]
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == 30080


def test_overlays_differ_only_where_declared(report: k8s.Report) -> None:
    production = next(r for r in report.renderings if r.label == "overlay production")
    hpas = {o["metadata"]["name"]: o["spec"] for o in production.objects if o["kind"] == "HorizontalPodAutoscaler"}
    assert all(spec["minReplicas"] == 2 for spec in hpas.values())
    assert all(spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300 for spec in hpas.values())


def test_addon_prometheus_runs_the_projects_config_rules_and_alertmanager(report: k8s.Report) -> None:
    """One scrape config (deploy/monitoring's), every rule file mounted where its rule_files
    point, and alerts sent to the add-on Alertmanager, configured from deploy/monitoring."""
    addons = next(r for r in report.renderings if r.label == "addons")
    monitoring = ROOT / "deploy" / "monitoring"
    maps = {o["metadata"]["name"].rsplit("-", 1)[0]: o for o in addons.objects if o["kind"] == "ConfigMap"}
    rule_files = sorted((monitoring / "rules").glob("*.rules.yml"))
    assert rule_files
    rules = maps["prometheus-rules"]
    assert rules["metadata"]["namespace"] == "monitoring"
    assert {name: yaml.safe_load(text) for name, text in rules["data"].items()} == {
        path.name: yaml.safe_load(path.read_text()) for path in rule_files}
    scrape = yaml.safe_load(maps["prometheus-config"]["data"]["prometheus.yml"])
    assert scrape == yaml.safe_load((monitoring / "kubernetes" / "prometheus.yml").read_text())
    # prometheus-adapter's rule maps the namespace and service labels back to Kubernetes objects.
    stack = next(j for j in scrape["scrape_configs"] if j["job_name"] == "kubernetes-service-endpoints")
    assert {"namespace", "service"} <= {r.get("target_label") for r in stack["relabel_configs"]}
    alertmanager = maps["alertmanager-config"]["data"]["alertmanager.yml"]
    assert alertmanager == (monitoring / "alertmanager" / "alertmanager.yml").read_text()

    by = {(o["kind"], o["metadata"]["name"]): o for o in addons.objects}
    pod = by[("Deployment", "prometheus")]["spec"]["template"]["spec"]
    volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    container = pod["containers"][0]
    mounts = {volumes[m["name"]]: m["mountPath"] for m in container["volumeMounts"] if m["name"] in volumes}
    rules_dir = mounts[rules["metadata"]["name"]]
    assert all(PurePosixPath(pattern).parent == PurePosixPath(rules_dir) for pattern in scrape["rule_files"])
    assert all(any(fnmatch.fnmatch(f"{rules_dir}/{path.name}", pattern) for pattern in scrape["rule_files"])
               for path in rule_files)
    config_file = next(a.split("=", 1)[1] for a in container["args"] if a.startswith("--config.file="))
    assert config_file == f"{mounts[maps['prometheus-config']['metadata']['name']]}/prometheus.yml"

    # Alerting points at the add-on Alertmanager's Service, which mounts alertmanager.yml.
    targets = [t for am in scrape["alerting"]["alertmanagers"] for c in am["static_configs"] for t in c["targets"]]
    assert targets == ["alertmanager.monitoring.svc:9093"]
    service = by[("Service", "alertmanager")]
    assert service["metadata"]["namespace"] == "monitoring" and service["spec"]["ports"][0]["port"] == 9093
    am_pod = by[("Deployment", "alertmanager")]["spec"]["template"]["spec"]
    config_volume = {"configMap": {"name": maps["alertmanager-config"]["metadata"]["name"]}, "name": "config"}
    assert config_volume in am_pod["volumes"]


# --- seeded mistakes ---------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / k8s.ORCHESTRATION
    shutil.copytree(ROOT / k8s.ORCHESTRATION, copy)
    # The add-ons load deploy/monitoring's configs and rules (kustomize components beside them).
    shutil.copytree(ROOT / "deploy" / "monitoring", tmp_path / "deploy" / "monitoring")
    return copy


def seed(tree: Path, relative: str, old: str, new: str) -> None:
    path = tree / relative
    text = path.read_text()
    assert text.count(old) == 1, f"seed text not unique in {relative}: {old!r}"
    path.write_text(text.replace(old, new))


def problems(tree: Path, tag: str = TAG) -> list[str]:
    configs = _configs()
    rendering = k8s.render(tree, "kind", configs["kind"], _plans(configs, tag)["kind"])
    addons = k8s.render_addons(tree)
    found = k8s.schema_problems(rendering) + k8s.schema_problems(addons)
    found += k8s.semantic_problems(rendering, k8s.adapter_metrics(addons)) + k8s.semantic_problems(addons)
    found += k8s.parity_problems(rendering, configs["kind"])
    return [str(p) for p in found]


def test_the_unseeded_copy_is_clean(tree: Path) -> None:
    assert problems(tree) == []


def test_selector_typo(tree: Path) -> None:
    seed(tree, "base/gateway.yaml", "selector: {app.kubernetes.io/name: gateway}",
         "selector: {app.kubernetes.io/name: gatway}")
    assert problems(tree) == [
        "[semantic] overlay kind: Service/gateway: selector app.kubernetes.io/name=gatway matches no pod template "
        "in this namespace (pods here are app.kubernetes.io/name=gateway, memory, model, orchestrator, postgres, "
        "redis, worker)"]


def test_hpa_on_a_deployment_with_replicas(tree: Path) -> None:
    seed(tree, "base/gateway.yaml", "spec:\n  revisionHistoryLimit: 5",
         "spec:\n  replicas: 3\n  revisionHistoryLimit: 5")
    assert problems(tree) == [
        "[semantic] overlay kind: Deployment/gateway: sets spec.replicas (3) but HorizontalPodAutoscaler/gateway "
        "manages its replica count: remove spec.replicas (every apply would reset the HPA's choice)"]


def test_container_without_cpu_request_under_a_utilization_hpa(tree: Path) -> None:
    seed(tree, "base/model.yaml", "requests: {cpu: 200m, memory: 128Mi}", "requests: {memory: 128Mi}")
    assert problems(tree) == [
        "[semantic] overlay kind: Deployment/model: container model has no cpu request, which "
        "HorizontalPodAutoscaler/model's cpu Utilization target needs (without it the HPA cannot compute "
        "utilization and never scales)"]


def test_probe_on_a_wrong_port(tree: Path) -> None:
    seed(tree, "base/gateway.yaml", "httpGet: {path: /readyz, port: http}", "httpGet: {path: /readyz, port: 8080}")
    assert problems(tree) == [
        "[semantic] overlay kind: Deployment/gateway: container gateway: readinessProbe port 8080 is no port of "
        "the container (it exposes http=8000)"]


def test_unknown_field(tree: Path) -> None:
    seed(tree, "base/worker.yaml", "          imagePullPolicy: IfNotPresent\n",
         "          imagePullPolicy: IfNotPresent\n          resource:\n            requests: {cpu: 100m}\n")
    assert problems(tree) == [
        "[schema] overlay kind: Deployment/worker: spec.template.spec.containers[0]: Additional properties are "
        "not allowed ('resource' was unexpected) (Kubernetes 1.36.1 schema, strict)"]


def test_probe_on_a_path_the_services_do_not_serve(tree: Path) -> None:
    seed(tree, "base/memory.yaml", "httpGet: {path: /readyz, port: http}", "httpGet: {path: /ready, port: http}")
    assert problems(tree) == [
        "[semantic] overlay kind: Deployment/memory: container memory: readinessProbe path /ready is not served "
        "(the services serve /healthz, /metrics, /readyz)"]


def test_config_key_that_is_no_setting(tree: Path) -> None:
    seed(tree, "base/kustomization.yaml", "      - STACKYARD_MODEL_URL=http://model:8000\n",
         "      - STACKYARD_MODEL_ULR=http://model:8000\n")
    assert problems(tree) == [
        "[semantic] overlay kind: Deployment/worker: container worker gets STACKYARD_MODEL_ULR, which is no "
        "setting of WorkerSettings (services/stackyard/common/settings.py): a typo, or a key the service ignores",
        "[semantic] overlay kind: Deployment/worker: container worker: STACKYARD_MODEL_URL: Field required "
        "(as WorkerSettings reads the rendered environment)"]


def test_grace_period_shorter_than_the_drain(tree: Path) -> None:
    seed(tree, "base/worker.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30")
    assert problems(tree) == [
        "[semantic] overlay kind: Deployment/worker: terminationGracePeriodSeconds 30 is shorter than preStop 5s + "
        "STACKYARD_DRAIN_SECONDS 35s + 5s: in-flight work would be killed; raise it to 45"]


def test_latest_and_unpinned_images(tree: Path) -> None:
    seed(tree, "addons/prometheus/prometheus.yaml", "prometheus/prometheus:v3.5.0", "prometheus/prometheus:v3.6.0")
    found = problems(tree, tag="latest")
    assert ("[semantic] addons: Deployment/prometheus: container prometheus uses quay.io/prometheus/prometheus:v3.6.0, "
            "which the project neither builds nor pins") in "\n".join(found)
    latest = [p for p in found if ":latest" in p]
    assert len(latest) == 5  # the five service images; redis and postgres are pinned upstream tags
    assert any("Deployment/gateway: container gateway uses stackyard/gateway:latest" in p for p in latest)


def test_custom_metric_no_adapter_rule_serves(tree: Path) -> None:
    seed(tree, "addons/prometheus-adapter/config.yaml", "as: stackyard_steps_in_flight", "as: stackyard_step_in_flight")
    assert problems(tree) == [
        "[semantic] overlay kind: HorizontalPodAutoscaler/worker: custom metric stackyard_steps_in_flight is served by "
        "no prometheus-adapter rule (addons/prometheus-adapter/config.yaml serves: stackyard_step_in_flight, "
        "stackyard_steps_backlog)"]


def test_a_setting_left_out_of_the_config_maps_is_named_with_key_and_target(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drift this check exists for: a mapped setting that never reaches its reader."""
    rendered_maps = k8s.rendering.config_maps

    def without_backlog(cfg: config.StackConfig) -> dict[str, dict[str, str]]:
        maps = rendered_maps(cfg)
        del maps["gateway"]["STACKYARD_MAX_BACKLOG"]
        return maps

    monkeypatch.setattr(k8s.rendering, "config_maps", without_backlog)
    assert problems(tree) == [
        "[parity] overlay kind: Deployment/gateway: gateway.max_backlog does not reach gateway on overlay kind "
        "(STACKYARD_MAX_BACKLOG is not in its environment): it would run with its built-in default — render it "
        "from tooling/config/mapping.py"]


def test_a_setting_patched_over_the_config_is_named_with_key_and_target(tree: Path) -> None:
    seed(tree, "base/gateway.yaml", "          env:\n            - name: STACKYARD_DATABASE_URL\n",
         "          env:\n            - {name: STACKYARD_MAX_BACKLOG, value: '1'}\n"
         "            - name: STACKYARD_DATABASE_URL\n")
    assert problems(tree) == [
        "[parity] overlay kind: Deployment/gateway: gateway.max_backlog reaches gateway on overlay kind as "
        "STACKYARD_MAX_BACKLOG='1', but envs/ says '5000': remove the value patched over the config"]


def test_validate_checks_compose_parity_too(tmp_path: Path) -> None:
    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text((ROOT / "docker-compose.yml").read_text().replace(
        "      STACKYARD_MODEL_URL: http://model:8000\n",
        "      STACKYARD_MODEL_URL: http://model:8000\n      STACKYARD_STEP_TIMEOUT_SECONDS: '1'\n"))
    configs = _configs()
    report = k8s.validate(ROOT / k8s.ORCHESTRATION, configs, _plans(configs), checkov=False,
                          compose={"ci": config.load("ci", ROOT / "envs", environ={})}, compose_file=compose_file)
    assert [str(p) for p in report.problems] == [
        "[parity] compose ci: service/worker: worker.step_timeout_seconds does not reach worker under compose: "
        "docker-compose.yml sets STACKYARD_STEP_TIMEOUT_SECONDS in `environment:`, which shadows the env file "
        "rendered from envs/ — remove it there"]


def test_checkov_policy_failure_is_reported_with_the_check(tree: Path) -> None:
    seed(tree, "base/model.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true")
    configs = _configs()
    rendering = k8s.render(tree, "kind", configs["kind"], _plans(configs)["kind"])
    found = [str(p) for p in k8s.checkov_problems([rendering], tree / "checkov.yaml")]
    assert any(p.startswith("[checkov] overlay kind: Deployment/model: CKV_K8S_20:") for p in found), found
