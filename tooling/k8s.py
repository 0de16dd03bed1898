"""Kubernetes manifests: render them from config with kustomize, and prove them before any cluster.

Rendering: each overlay in deploy/orchestration/overlays/ is wrapped, in a temporary directory,
by a kustomization that adds what comes from envs/<stage>.yaml (merged into the base's
ConfigMaps) and the image references of the ImagePlan (kustomize `images:`). Tracked files are
never edited; the same config object renders the compose environment (tooling/compose.py).

Proof, with no cluster:
  1. every object against the pinned Kubernetes version's JSON schemas, strictly (unknown fields
     are errors) — kubernetes-validate, offline;
  2. our own semantic checks (`semantic_problems`): selectors, HPA targets, requests, probes,
     ports, config keys against the services' settings classes, images, drain timing;
  3. checkov's policies, with every skip written next to its reason.
Every problem names where it was found (overlay or file), the object and what to change.
"""

import copy
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tooling.cli import kubectl
from tooling.cli import run as seam
from tooling.config import Secrets, StackConfig
from tooling.errors import StackyardError
from tooling.images import ImagePlan

ORCHESTRATION = Path("deploy/orchestration")
OVERLAYS = ("kind", "staging", "production")
COMPONENT_DIRS = ("autoscaling", "monitoring", "network-policies", "pod-disruption-budgets")
# The Kubernetes version manifests are validated against: the one kind's pinned node image runs
# (tooling/cluster.py NODE_IMAGE). kubernetes-validate bundles schemas for 1.25 to 1.37.
K8S_VERSION = "1.36.1"
APP_COMPONENTS = ("gateway", "orchestrator", "worker", "memory", "model")
DATASTORES = ("redis", "postgres")
# The Secret the stack reads; created by `inv cluster` / the deploy from envs/<stage>.env or the
# environment, never rendered into a file.
SECRET_NAME = "stackyard-secrets"
SECRET_KEYS = ("postgres-password", "database-url", "api-keys")
POSTGRES_ENV = frozenset({"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PGDATA"})
# Add-on images, pinned by version; deploy/orchestration/addons/ may use these and only these.
ADDON_IMAGES = frozenset({
    "registry.k8s.io/metrics-server/metrics-server:v0.8.0",
    "quay.io/prometheus/prometheus:v3.5.0",
    "quay.io/prometheus/alertmanager:v0.28.1",
    "registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0",
})
SETTINGS_CLASSES = {
    "gateway": "GatewaySettings",
    "orchestrator": "OrchestratorSettings",
    "worker": "WorkerSettings",
    "memory": "MemorySettings",
    "model": "ModelSettings",
}
ENV_PREFIX = "STACKYARD_"
# terminationGracePeriodSeconds must cover preStop + drain + this margin (exit, flush logs).
DRAIN_MARGIN_SECONDS = 5
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
EXPECTED_PROBE_PATHS = {"livenessProbe": "/healthz", "startupProbe": "/healthz", "readinessProbe": "/readyz"}


class K8sError(StackyardError):
    pass


@dataclass(frozen=True)
class Problem:
    source: str  # where: "overlay kind", "addons", "base+monitoring"
    subject: str  # "Deployment/gateway" (namespace left out: one namespace per render)
    message: str
    check: str  # schema | semantic | checkov

    def __str__(self) -> str:
        subject = f"{self.subject}: " if self.subject else ""
        return f"[{self.check}] {self.source}: {subject}{self.message}"


@dataclass
class Rendering:
    label: str  # "overlay kind", "addons", "base+autoscaling"
    text: str
    objects: list[dict[str, Any]]
    allowed_images: frozenset[str]


@dataclass
class Report:
    renderings: list[Rendering] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "kubernetes_version": K8S_VERSION,
            "rendered": {r.label: len(r.objects) for r in self.renderings},
            "problems": [{"check": p.check, "source": p.source, "object": p.subject, "message": p.message}
                         for p in self.problems],
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


# ---------------------------------------------------------------------------------------------
# config → ConfigMaps and Secret


def config_maps(config: StackConfig) -> dict[str, dict[str, str]]:
    """The values from envs/ each component's ConfigMap gets, keyed by component.

    Keys are the services' settings fields (STACKYARD_<FIELD>), the same values
    tooling/compose.py puts into the compose environment; service URLs are in base/."""
    common = {"STACKYARD_STAGE": config.stage, "STACKYARD_LOG_LEVEL": config.log_level}
    return {
        "gateway": {
            **common,
            "STACKYARD_REQUIRE_API_KEY": "true" if config.gateway.require_api_key else "false",
            "STACKYARD_MAX_BODY_BYTES": str(config.gateway.max_body_bytes),
            "STACKYARD_MAX_INPUT_CHARS": str(config.gateway.max_input_chars),
        },
        "orchestrator": dict(common),
        "worker": {
            **common,
            "STACKYARD_MODEL_NAME": config.model.name,
            "STACKYARD_CONCURRENCY": str(config.worker.concurrency),
        },
        "memory": dict(common),
        "model": {
            **common,
            "STACKYARD_MODEL_NAME": config.model.name,
            "STACKYARD_FIRST_TOKEN_MS": str(config.model.first_token_ms),
            "STACKYARD_TOKENS_PER_SECOND": str(config.model.tokens_per_second),
        },
        "postgres": {"POSTGRES_USER": config.postgres.user, "POSTGRES_DB": config.postgres.database},
    }


def secret_data(config: StackConfig, secrets: Secrets) -> dict[str, str]:
    """The Secret's keys (SECRET_KEYS), built from the validated config and secrets."""
    from urllib.parse import quote

    pg = config.postgres
    url = (f"postgresql://{quote(pg.user, safe='')}:{quote(secrets.postgres_password, safe='')}"
           f"@postgres:5432/{pg.database}")
    return {"postgres-password": secrets.postgres_password, "database-url": url,
            "api-keys": json.dumps(list(secrets.api_keys))}


# ---------------------------------------------------------------------------------------------
# images


def split_image(ref: str) -> tuple[str, str, str]:
    """`name:tag` / `name@sha256:…` / `name` → (name, tag, digest)."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag, digest


def image_entries(plan: ImagePlan) -> list[dict[str, str]]:
    """kustomize `images:` entries mapping base/'s untagged names to the plan's references."""
    wanted = {f"stackyard/{c}": ref for c, ref in plan.services.items()}
    wanted["stackyard/redis"] = plan.redis
    wanted["stackyard/postgres"] = plan.postgres
    entries = []
    for placeholder, ref in sorted(wanted.items()):
        name, tag, digest = split_image(ref)
        entry = {"name": placeholder, "newName": name}
        if digest:
            entry["digest"] = digest
        elif tag:
            entry["newTag"] = tag
        entries.append(entry)
    return entries


def plan_images(plan: ImagePlan) -> frozenset[str]:
    return frozenset([*plan.services.values(), plan.redis, plan.postgres])


# ---------------------------------------------------------------------------------------------
# render


def _wrapper(target: Path, where: Path, *, components: Iterable[Path] = (),
             images: list[dict[str, str]] | None = None, maps: Mapping[str, Mapping[str, str]] | None = None,
             namespace: str | None = None) -> dict[str, Any]:
    # kustomize refuses absolute resource paths: point at the target relative to the wrapper.
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(target, where)],
    }
    if namespace:
        kustomization["namespace"] = namespace
    if components:
        kustomization["components"] = [os.path.relpath(c, where) for c in components]
    if images:
        kustomization["images"] = images
    if maps:
        kustomization["configMapGenerator"] = [
            {"name": f"stackyard-{component}", "behavior": "merge",
             "literals": [f"{key}={value}" for key, value in sorted(values.items())]}
            for component, values in maps.items()
        ]
    return kustomization


def kustomize(target: Path, **wrapper: Any) -> str:
    """Render `target` (a kustomization directory) wrapped with images and ConfigMap values."""
    if not (target / "kustomization.yaml").exists():
        raise K8sError(f"{target} has no kustomization.yaml", "check the path (overlays: " + ", ".join(OVERLAYS) + ")")
    with tempfile.TemporaryDirectory(prefix="stackyard-render-") as tmp:
        where = Path(tmp)
        (where / "kustomization.yaml").write_text(yaml.safe_dump(_wrapper(target, where, **wrapper), sort_keys=False))
        try:
            return kubectl.kustomize(where)
        except seam.CommandError as error:
            raise K8sError(f"kustomize could not render {target}:\n    {error.stderr.strip()}",
                           "fix the file it names (run `kubectl kustomize` on it to iterate)") from error


def render(orchestration: Path, overlay: str, config: StackConfig, plan: ImagePlan) -> Rendering:
    if overlay not in OVERLAYS:
        raise K8sError(f"no overlay {overlay!r}", f"use one of: {', '.join(OVERLAYS)}")
    text = kustomize(orchestration / "overlays" / overlay, images=image_entries(plan), maps=config_maps(config))
    return Rendering(f"overlay {overlay}", text, parse(text, f"overlay {overlay}"), plan_images(plan))


def render_addons(orchestration: Path) -> Rendering:
    text = kustomize(orchestration / "addons")
    return Rendering("addons", text, parse(text, "addons"), ADDON_IMAGES)


def render_combinations(orchestration: Path, config: StackConfig, plan: ImagePlan) -> list[Rendering]:
    """base alone and base with each component alone: each must stand on its own."""
    renderings = []
    for component in ("", *COMPONENT_DIRS):
        label = "base" + (f"+{component}" if component else "")
        components = [orchestration / "components" / component] if component else []
        # A namespace, as every overlay sets one (checkov rightly flags the default namespace).
        text = kustomize(orchestration / "base", components=components, images=image_entries(plan),
                         maps=config_maps(config), namespace="stackyard-check")
        renderings.append(Rendering(label, text, parse(text, label), plan_images(plan)))
    return renderings


def parse(text: str, label: str) -> list[dict[str, Any]]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as error:
        raise K8sError(f"{label}: kustomize produced invalid YAML: {error}", "report this: it is a bug") from error


def write(rendering: Rendering, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.yaml"
    path.write_text(rendering.text)
    return path


# ---------------------------------------------------------------------------------------------
# 1. schemas


def _subject(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"


def _json_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_problems(rendering: Rendering, version: str = K8S_VERSION) -> list[Problem]:
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    problems = []
    for obj in rendering.objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except ValidationError as error:
            where = _json_path(error.path)
            problems.append(Problem(rendering.label, _subject(obj),
                                    f"{where}: {error.message} (Kubernetes {version} schema, strict)", "schema"))
        except SchemaNotFoundError:
            problems.append(Problem(
                rendering.label, _subject(obj),
                f"no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {version}: a typo in "
                "apiVersion/kind, a removed API, or a custom resource (give it its own schema)", "schema"))
    return problems


# ---------------------------------------------------------------------------------------------
# 2. semantic checks


def _labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against labels."""
    if not _labels_match(selector.get("matchLabels") or {}, labels):
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


def _fmt_labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(empty)"


def _pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    return dict(((workload.get("spec") or {}).get("template") or {}).get("spec") or {})


def _pod_labels(workload: Mapping[str, Any]) -> dict[str, str]:
    return dict((((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})


def _container_ports(container: Mapping[str, Any]) -> dict[str, int]:
    """name (or str(number)) → containerPort."""
    ports: dict[str, int] = {}
    for port in container.get("ports") or []:
        number = int(port["containerPort"])
        ports[str(number)] = number
        if port.get("name"):
            ports[str(port["name"])] = number
    return ports


def _fmt_ports(container: Mapping[str, Any]) -> str:
    ports = [f"{p.get('name', '?')}={p['containerPort']}" for p in container.get("ports") or []]
    return ", ".join(ports) or "none"


@lru_cache(maxsize=1)
def served_paths() -> frozenset[str]:
    """The paths every stackyard service serves outside its API (from the services' own app)."""
    try:
        from stackyard.common.http import create_app
    except ImportError as error:
        raise K8sError(f"the services package is not importable ({error})",
                       "run `./dev` to install it into .venv (pip install -e ./services)") from error
    app = create_app("k8s-validate")
    return frozenset(getattr(route, "path", "") for route in app.routes)


def settings_class(component: str) -> Any:
    try:
        from stackyard.common import settings
    except ImportError as error:
        raise K8sError(f"the services package is not importable ({error})",
                       "run `./dev` to install it into .venv (pip install -e ./services)") from error
    return getattr(settings, SETTINGS_CLASSES[component])


def build_settings(component: str, env: Mapping[str, str]) -> Any:
    """The component's settings object built from exactly `env` (not this process's environment)."""
    from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

    given = dict(env)

    class GivenEnv(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return {name.lower(): value for name, value in given.items()}

    base = settings_class(component)

    class FromRenderedEnv(base):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], *args: Any,
                                       **kwargs: Any) -> tuple[PydanticBaseSettingsSource, ...]:
            return (GivenEnv(settings_cls),)

    return FromRenderedEnv()


# Placeholder secret values: the settings classes only see their shape.
_SECRET_SAMPLES = {"postgres-password": "validate", "database-url": "postgresql://u:p@postgres:5432/d",
                   "api-keys": '["validate-key"]'}


class _Checker:
    def __init__(self, rendering: Rendering, adapter_metrics: frozenset[str] | None) -> None:
        self.rendering = rendering
        self.adapter_metrics = adapter_metrics
        self.problems: list[Problem] = []
        self.by_kind: dict[str, list[dict[str, Any]]] = {}
        for obj in rendering.objects:
            self.by_kind.setdefault(str(obj.get("kind")), []).append(obj)

    def add(self, obj: Mapping[str, Any] | None, message: str) -> None:
        self.problems.append(Problem(self.rendering.label, _subject(obj) if obj else "", message, "semantic"))

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
            matched = [w for w in self.workloads(namespace) if _labels_match(selector, _pod_labels(w))]
            if not matched:
                known = sorted({_pod_labels(w).get("app.kubernetes.io/name", "?") for w in self.workloads(namespace)})
                self.add(service, f"selector {_fmt_labels(selector)} matches no pod template in this namespace "
                                  f"(pods here are app.kubernetes.io/name={', '.join(known) or 'none'})")
                continue
            ports = {str(p.get("port")) for p in spec.get("ports") or []}
            for port in spec.get("ports") or []:
                target = str(port.get("targetPort", port.get("port")))
                for workload in matched:
                    containers = _pod_spec(workload).get("containers") or []
                    if not any(target in _container_ports(c) for c in containers):
                        self.add(service, f"port {port.get('name', port.get('port'))} targets {target}, which no "
                                          f"container of {_subject(workload)} exposes "
                                          f"({'; '.join(_fmt_ports(c) for c in containers)})")
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
                self.add(target, f"sets spec.replicas ({target['spec']['replicas']}) but {_subject(hpa)} manages "
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
            for container in _pod_spec(target).get("containers") or []:
                if kind == "ContainerResource" and container.get("name") != body.get("container"):
                    continue
                requests = (container.get("resources") or {}).get("requests") or {}
                if resource not in requests:
                    self.add(target, f"container {container.get('name')} has no {resource} request, which "
                                     f"{_subject(hpa)}'s {resource} Utilization target needs (without it the HPA "
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
            if not any(_selector_matches(selector, _pod_labels(w)) for w in self.workloads(namespace)):
                self.add(budget, f"selector {_fmt_labels(selector.get('matchLabels') or {})} matches no pod template")
        for policy in self.by_kind.get("NetworkPolicy", []):
            namespace = (policy.get("metadata") or {}).get("namespace")
            selector = (policy.get("spec") or {}).get("podSelector") or {}
            if selector and not any(_selector_matches(selector, _pod_labels(w)) for w in self.workloads(namespace)):
                self.add(policy, f"podSelector {_fmt_labels(selector.get('matchLabels') or {})} "
                                 "matches no pod template")

    # Containers: images, probes against real ports and paths, configuration against settings.
    def containers(self, workload: dict[str, Any]) -> None:
        pod = _pod_spec(workload)
        namespace = (workload.get("metadata") or {}).get("namespace")
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            name = str(container.get("name"))
            self.image(workload, container)
            env = self.environment(workload, container, namespace)
            listen_port = None
            if name in APP_COMPONENTS:
                listen_port = self.app_config(workload, container, env)
                self.drain(workload, container, env)
            self.probes(workload, container, name in APP_COMPONENTS, listen_port)
            if name == "postgres":
                unknown = sorted(set(env) - POSTGRES_ENV)
                if unknown:
                    self.add(workload, f"container postgres gets {', '.join(unknown)}, which the postgres image "
                                       f"does not read (it reads {', '.join(sorted(POSTGRES_ENV))})")
                for required in ("POSTGRES_USER", "POSTGRES_PASSWORD"):
                    if required not in env:
                        self.add(workload, f"container postgres lacks {required}")

    def image(self, workload: dict[str, Any], container: Mapping[str, Any]) -> None:
        image = str(container.get("image", ""))
        name, tag, digest = split_image(image)
        if tag == "latest" or (not tag and not digest):
            self.add(workload, f"container {container.get('name')} uses {image or '(no image)'}: "
                               "an implicit or explicit :latest (kind nodes would pull it, bypassing loaded images) "
                               "— render through `inv k8s.render`, which sets the built tags")
        elif image not in self.rendering.allowed_images:
            self.add(workload, f"container {container.get('name')} uses {image}, which the project neither builds "
                               f"nor pins (allowed here: {', '.join(sorted(self.rendering.allowed_images))})")

    def environment(self, workload: dict[str, Any], container: Mapping[str, Any],
                    namespace: str | None) -> dict[str, str]:
        """The container's environment as rendered, secrets replaced by sample values."""
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef") or {}
            if ref:
                config_map = self.find("ConfigMap", str(ref.get("name")), namespace)
                if config_map is None:
                    if not ref.get("optional"):
                        self.add(workload, f"container {container.get('name')} reads ConfigMap {ref.get('name')}, "
                                           "which this render does not contain")
                    continue
                env.update({str(k): str(v) for k, v in (config_map.get("data") or {}).items()})
            if source.get("secretRef"):
                self.add(workload, f"container {container.get('name')} imports a whole Secret: name its keys in env")
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            key_ref = value_from.get("secretKeyRef")
            if key_ref:
                if key_ref.get("name") != SECRET_NAME or key_ref.get("key") not in SECRET_KEYS:
                    self.add(workload, f"{variable['name']} reads secret {key_ref.get('name')}/{key_ref.get('key')}; "
                                       f"the stack's secret is {SECRET_NAME} with keys {', '.join(SECRET_KEYS)}")
                    continue
                env[variable["name"]] = _SECRET_SAMPLES[key_ref["key"]]
            elif "value" in variable:
                env[variable["name"]] = str(variable["value"])
            else:
                env[variable["name"]] = "from-field"
        return env

    def app_config(self, workload: dict[str, Any], container: Mapping[str, Any], env: Mapping[str, str]) -> int:
        """Every key is a settings field and the settings object builds; return its listen port."""
        from pydantic import ValidationError

        component = str(container.get("name"))
        cls = settings_class(component)
        fields = set(cls.model_fields)
        for key in sorted(env):
            field_name = key[len(ENV_PREFIX):].lower() if key.startswith(ENV_PREFIX) else None
            if field_name not in fields:
                self.add(workload, f"container {component} gets {key}, which is no setting of {cls.__name__} "
                                   f"(services/stackyard/common/settings.py): a typo, or a key the service ignores")
        try:
            settings = build_settings(component, env)
        except ValidationError as error:
            for item in error.errors():
                variable = ENV_PREFIX + "_".join(str(p) for p in item.get("loc", ())).upper()
                self.add(workload, f"container {component}: {variable}: {item.get('msg')} "
                                   f"(as {cls.__name__} reads the rendered environment)")
            return 8000
        return int(settings.port)

    def drain(self, workload: dict[str, Any], container: Mapping[str, Any], env: Mapping[str, str]) -> None:
        pod = _pod_spec(workload)
        grace = int(pod.get("terminationGracePeriodSeconds", 30))
        pre_stop = (((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
        try:
            drain = float(env.get("STACKYARD_DRAIN_SECONDS", settings_class(str(container["name"]))
                                  .model_fields["drain_seconds"].default))
        except ValueError:
            return  # reported by app_config
        needed = int(pre_stop) + drain + DRAIN_MARGIN_SECONDS
        if grace < needed:
            self.add(workload, f"terminationGracePeriodSeconds {grace} is shorter than preStop {pre_stop}s + "
                               f"STACKYARD_DRAIN_SECONDS {drain:g}s + {DRAIN_MARGIN_SECONDS}s: in-flight work would "
                               f"be killed; raise it to {int(needed + 0.999)}")

    def probes(self, workload: dict[str, Any], container: Mapping[str, Any], app: bool,
               listen_port: int | None) -> None:
        ports = _container_ports(container)
        for probe_name in PROBES:
            probe = container.get(probe_name)
            if not probe:
                if app and probe_name != "startupProbe":
                    self.add(workload, f"container {container.get('name')} has no {probe_name}")
                continue
            handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
            if not handler:
                continue  # exec probes run inside the container: nothing to cross-check
            port = str(handler.get("port"))
            if port not in ports:
                self.add(workload, f"container {container.get('name')}: {probe_name} port {port} is no port of "
                                   f"the container (it exposes {_fmt_ports(container)})")
                continue
            if listen_port is not None and ports[port] != listen_port:
                self.add(workload, f"container {container.get('name')}: {probe_name} probes port {ports[port]} "
                                   f"but the service listens on {listen_port} (STACKYARD_PORT)")
            path = (probe.get("httpGet") or {}).get("path")
            if app and path is not None:
                if path not in served_paths():
                    self.add(workload, f"container {container.get('name')}: {probe_name} path {path} is not served "
                                       f"(the services serve {', '.join(sorted(p for p in served_paths() if p))})")
                elif path != EXPECTED_PROBE_PATHS[probe_name]:
                    self.add(workload, f"container {container.get('name')}: {probe_name} uses {path}; it should use "
                                       f"{EXPECTED_PROBE_PATHS[probe_name]} (liveness never checks dependencies; "
                                       "readiness does)")


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


# ---------------------------------------------------------------------------------------------
# 3. checkov


def checkov_binary() -> str:
    beside = Path(sys.executable).parent / "checkov"
    found = str(beside) if beside.exists() else shutil.which("checkov")
    if not found:
        raise seam.ToolMissing("checkov", "run `./dev` to refresh .venv (pip package checkov)")
    return found


def checkov_problems(renderings: list[Rendering], config_file: Path) -> list[Problem]:
    """One checkov run over every rendering (its start-up dominates: run it once)."""
    with tempfile.TemporaryDirectory(prefix="stackyard-checkov-") as tmp:
        labels = {}
        for index, rendering in enumerate(renderings):
            name = f"{index:02d}-{re.sub(r'[^a-z0-9+]+', '-', rendering.label)}.yaml"
            (Path(tmp) / name).write_text(rendering.text)
            labels[f"/{name}"] = rendering.label
        output = seam.run([checkov_binary(), "--directory", tmp, "--config-file", str(config_file),
                           "--output", "json", "--quiet", "--compact", "--soft-fail", "--skip-download"],
                          cwd=tmp, env={"BC_SKIP_MAPPING": "TRUE"}, timeout=600)
    try:
        data = json.loads(output)
    except json.JSONDecodeError as error:
        raise K8sError(f"checkov printed no JSON: {output[:300]!r}", "run checkov by hand to see why") from error
    reports = data if isinstance(data, list) else [data]
    problems = []
    for report in reports:
        results = report.get("results") or {}
        for failed in results.get("failed_checks") or []:
            label = labels.get(failed.get("file_path", ""), failed.get("file_path", "?"))
            kind, _, rest = str(failed.get("resource", "")).partition(".")
            problems.append(Problem(label, f"{kind}/{rest.partition('.')[2] or rest}",
                                    f"{failed.get('check_id')}: {failed.get('check_name')} — fix it, or skip it "
                                    "with its reason (deploy/orchestration/checkov.yaml or a checkov.io/skipN "
                                    "annotation on the object)", "checkov"))
        for path in (report.get("summary") or {}).get("parsing_errors_files") or []:
            problems.append(Problem(labels.get(path, path), "", "checkov could not parse it", "checkov"))
    return problems


# ---------------------------------------------------------------------------------------------
# everything


def validate(orchestration: Path, configs: Mapping[str, StackConfig], plans: Mapping[str, ImagePlan], *,
             checkov: bool = True, overlays: Iterable[str] = OVERLAYS) -> Report:
    """Render every overlay (+ add-ons, + base with each component) and run all three checks."""
    report = Report()
    started = time.monotonic()
    addons = render_addons(orchestration)
    renderings = [render(orchestration, overlay, configs[overlay], plans[overlay]) for overlay in overlays]
    first = next(iter(overlays))
    renderings += render_combinations(orchestration, configs[first], plans[first])
    renderings.append(addons)
    report.renderings = renderings
    report.seconds["render"] = time.monotonic() - started

    mark = time.monotonic()
    for rendering in renderings:
        report.problems += schema_problems(rendering)
    report.seconds["schemas"] = time.monotonic() - mark

    mark = time.monotonic()
    served = adapter_metrics(addons)
    for rendering in renderings:
        report.problems += semantic_problems(rendering, served)
    report.seconds["semantic"] = time.monotonic() - mark

    if checkov:
        mark = time.monotonic()
        report.problems += checkov_problems(renderings, orchestration / "checkov.yaml")
        report.seconds["checkov"] = time.monotonic() - mark
    return report


def summary(report: Report) -> str:
    lines = [f"  {r.label:<32} {len(r.objects):3d} objects" for r in report.renderings]
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    head = f"validated against Kubernetes {K8S_VERSION} (strict schemas, semantic checks, checkov): {timing}"
    if report.ok:
        return "\n".join([head, *lines, f"✓ no problems in {len(report.renderings)} renderings"])
    return "\n".join([head, *lines, f"✗ {len(report.problems)} problem(s):", *(f"  {p}" for p in report.problems)])


def copy_objects(rendering: Rendering) -> Rendering:
    """A deep copy to mutate in tests and what-ifs."""
    return Rendering(rendering.label, rendering.text, copy.deepcopy(rendering.objects), rendering.allowed_images)
