"""Replicas and CPU per component over time, sampled during a load run every few seconds.

compose: running containers per service (`docker compose ps`) and `docker stats` CPU.
cluster: HPA current/desired/min/max (`kubectl get hpa`), ready pods per component
(`kubectl get pods`) and CPU (`kubectl top pods`). The parsers are plain functions over the
tools' recorded output, unit-tested without Docker or a cluster.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tooling import compose, progress
from tooling.cli import docker as docker_cli
from tooling.cli import kubectl as kubectl_cli
from tooling.config import StackConfig
from tooling.errors import CommandError, ToolMissing

COMPONENT_LABEL = "app.kubernetes.io/name"


@dataclass
class ReplicaSample:
    t: float
    replicas: dict[str, int] = field(default_factory=dict)  # running (compose) / ready pods (cluster)
    desired: dict[str, int] = field(default_factory=dict)  # HPA desiredReplicas (cluster)
    minimum: dict[str, int] = field(default_factory=dict)  # HPA minReplicas (cluster)
    maximum: dict[str, int] = field(default_factory=dict)
    cpu_cores: dict[str, float] = field(default_factory=dict)  # summed over the component's replicas

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "ReplicaSample":
        return ReplicaSample(**data)


# ------------------------------------------------------------------------------------------------
# parsers


def parse_docker_stats(text: str) -> dict[str, float]:
    """`docker stats --no-stream --format '{{json .}}'` → container name → CPU in cores."""
    cores: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        item = json.loads(line)
        value = str(item.get("CPUPerc", "0")).rstrip("%").strip() or "0"
        try:
            cores[str(item.get("Name", ""))] = float(value) / 100
        except ValueError:
            cores[str(item.get("Name", ""))] = 0.0
    return cores


def compose_sample(states: list[compose.ServiceState], stats: dict[str, float], t: float) -> ReplicaSample:
    sample = ReplicaSample(t)
    for state in states:
        if state.state != "running":
            continue
        sample.replicas[state.service] = sample.replicas.get(state.service, 0) + 1
        if state.container in stats:
            sample.cpu_cores[state.service] = round(sample.cpu_cores.get(state.service, 0.0)
                                                    + stats[state.container], 4)
    return sample


def parse_hpas(data: dict[str, Any]) -> dict[str, dict[str, int]]:
    """`kubectl get hpa -o json` → target deployment → current/desired/min/max."""
    result = {}
    for item in data.get("items") or []:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        target = (spec.get("scaleTargetRef") or {}).get("name") or item["metadata"]["name"]
        result[str(target)] = {"current": int(status.get("currentReplicas") or 0),
                               "desired": int(status.get("desiredReplicas") or 0),
                               "min": int(spec.get("minReplicas") or 1), "max": int(spec.get("maxReplicas") or 0)}
    return result


def pod_components(data: dict[str, Any]) -> dict[str, str]:
    """`kubectl get pods -o json` → pod name → component (its app.kubernetes.io/name label)."""
    return {str(item["metadata"]["name"]): str((item["metadata"].get("labels") or {}).get(COMPONENT_LABEL, "?"))
            for item in data.get("items") or []}


def ready_pods(data: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in data.get("items") or []:
        component = str((item["metadata"].get("labels") or {}).get(COMPONENT_LABEL, "?"))
        conditions = {c.get("type"): c.get("status") for c in (item.get("status") or {}).get("conditions") or []}
        if item["metadata"].get("deletionTimestamp") is None and conditions.get("Ready") == "True":
            counts[component] = counts.get(component, 0) + 1
        else:
            counts.setdefault(component, 0)
    return counts


def parse_cpu_quantity(text: str) -> float:
    """A Kubernetes CPU quantity (`250m`, `1`, `1500000n`) in cores."""
    match = re.fullmatch(r"([0-9.]+)([numk]?)", text.strip())
    if not match:
        raise ValueError(f"not a CPU quantity: {text!r}")
    scale = {"": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9, "k": 1e3}[match.group(2)]
    return float(match.group(1)) * scale


def parse_top(text: str, components: dict[str, str]) -> dict[str, float]:
    """`kubectl top pods --no-headers` → component → CPU in cores (summed over its pods)."""
    cores: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        component = components.get(parts[0]) or parts[0].rsplit("-", 2)[0]
        cores[component] = round(cores.get(component, 0.0) + parse_cpu_quantity(parts[1]), 4)
    return cores


def cluster_sample(hpas: dict[str, Any], pods: dict[str, Any], top: str, t: float) -> ReplicaSample:
    scaled = parse_hpas(hpas)
    return ReplicaSample(
        t, replicas=ready_pods(pods),
        desired={name: h["desired"] for name, h in scaled.items()},
        minimum={name: h["min"] for name, h in scaled.items()},
        maximum={name: h["max"] for name, h in scaled.items()},
        cpu_cores=parse_top(top, pod_components(pods)) if top else {},
    )


# ------------------------------------------------------------------------------------------------
# probes (one call = one sample) and the background sampler


def compose_probe(root: Path, config: StackConfig) -> Callable[[], ReplicaSample]:
    def probe() -> ReplicaSample:
        t = time.time()
        states = compose.status(root, config)
        names = [s.container for s in states if s.state == "running"]
        stats: dict[str, float] = {}
        if names:
            try:
                stats = parse_docker_stats(docker_cli.stats_json(names, timeout=30))
            except CommandError:
                stats = {}  # a container went away between ps and stats: keep the counts
        return compose_sample(states, stats, t)
    return probe


def cluster_probe(kubeconfig: Path, namespace: str) -> Callable[[], ReplicaSample]:
    def get(*args: str) -> str:
        return kubectl_cli.kubectl(kubeconfig, [*args, "-n", namespace], timeout=30)

    def probe() -> ReplicaSample:
        t = time.time()
        hpas = json.loads(get("get", "hpa", "-o", "json"))
        pods = json.loads(get("get", "pods", "-o", "json"))
        try:
            top = get("top", "pods", "--no-headers")
        except CommandError:
            top = ""  # metrics-server has no figures yet: replicas still count
        return cluster_sample(hpas, pods, top, t)
    return probe


class Sampler:
    """Calls `probe` every `interval` seconds on a thread until stopped; failures are counted, not fatal."""

    def __init__(self, probe: Callable[[], ReplicaSample], interval: float) -> None:
        self.probe = probe
        self.interval = interval
        self.samples: list[ReplicaSample] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="replica-sampler")

    def _loop(self) -> None:
        while True:
            self.sample_once()
            if self._stop.wait(self.interval):
                return

    def sample_once(self) -> ReplicaSample | None:
        try:
            sample = self.probe()
        except (CommandError, ToolMissing, ValueError, KeyError, OSError) as error:
            self.failures.append(str(error).splitlines()[0][:200])
            return None
        self.samples.append(sample)
        return sample

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> list[ReplicaSample]:
        self._stop.set()
        self._thread.join(timeout=60)
        return self.samples

    def follow_until(self, done: Callable[[ReplicaSample], bool], timeout: float, label: str) -> bool:
        """After the load: keep sampling (on this thread) until `done` holds or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with progress.step(label):
            while time.monotonic() < deadline:
                sample = self.sample_once()
                if sample is not None and done(sample):
                    return True
                time.sleep(self.interval)
        return False


def to_json(samples: list[ReplicaSample]) -> list[dict[str, Any]]:
    return [asdict(sample) for sample in samples]
