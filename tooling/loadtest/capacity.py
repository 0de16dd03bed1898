"""`inv capacity`: measured per-replica capacity → requests, HPA targets and replica bounds.

Input: a scaling.json from `inv loadtest.scaling` (completed tasks/s per worker count, CPU per
component from `docker stats`). Rules, in the open so a reviewer can argue with them:
  - a worker's capacity is the lowest per-replica throughput among the steps that scaled with at
    least MIN_EFFICIENCY (conservative), scaled by the stage's worker.concurrency over the measured
    one (valid while agents are I/O-bound, i.e. waiting on a model with the measured latency);
  - CPU per task of each component = its measured cores / completed tasks per second;
  - a CPU-scaled component requests what one replica used at the busiest measured step (rounded up
    to 50m, at least MIN_REQUEST), and needs ceil(load × CPU per task / (request × utilization));
  - workers scale on steps in flight per worker (the steps stream's backlog plus its pending
    entries, WORKER_METRIC): the target is IN_FLIGHT_SHARE of the worker's concurrency, so a worker
    is added before one is full (tooling/loadtest/hpa_model.py, docs/kubernetes.md);
  - production: min = max(production_min_replicas, half of what the target needs), max = needed ×
    headroom; staging is sized for staging_share of the target load, min 1;
  - the Postgres connection budget (tooling/k8s/connection_budget.py): the proposed max of each
    Postgres client (gateway, memory) is lowered, the largest pool × max first and never below its
    min, until every pool × max — the orchestrator, not planned here, at production_min_replicas
    on production and 1 elsewhere — fits in postgres.max_connections − postgres.reserve.
Output is printed, and written as kustomize patches only where the user names a directory —
never into the tracked overlays.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tooling.config import StackConfig, mapping
from tooling.errors import StackyardError
from tooling.k8s import connection_budget

MIN_EFFICIENCY = 0.8
MIN_REQUEST_CORES = 0.1
# The worker HPA's metric (components/autoscaling/hpa-worker.yaml; tests/unit/test_capacity.py
# holds the two together) and its target as a share of the worker's concurrency.
WORKER_METRIC = "stackyard_steps_in_flight"
IN_FLIGHT_SHARE = 0.5
CPU_COMPONENTS = ("gateway", "memory", "model")


@dataclass
class Measurement:
    source: str
    worker_tasks_per_second: float  # per worker replica, as measured
    worker_concurrency: int
    model_first_token_ms: float
    cpu_per_task: dict[str, float]  # cores·s per completed task
    peak_cores: dict[str, float]  # per replica at the busiest step


@dataclass
class ComponentPlan:
    component: str
    replicas_needed: int
    min_replicas: int
    max_replicas: int
    cpu_request: str
    hpa_metric: str
    hpa_target: str


@dataclass
class StagePlan:
    stage: str
    target_rps: float
    components: list[ComponentPlan] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_measurement(path: Path) -> Measurement:
    if not path.exists():
        raise StackyardError(f"no scaling measurement at {path}",
                             "measure first with `inv loadtest.scaling` (on a running `inv up` stack)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise StackyardError(f"{path} is not JSON: {error}", "re-run `inv loadtest.scaling`") from error
    return measurement_from(data, str(path))


def measurement_from(data: dict[str, Any], source: str) -> Measurement:
    workers = next((s["levels"] for s in data.get("series", []) if s.get("service") == "worker"), None)
    if not workers:
        raise StackyardError(f"{source} has no worker measurement", "run `inv loadtest.scaling --scale worker=1,2,4`")
    scaled = [lv for lv in workers if lv.get("efficiency", 1.0) >= MIN_EFFICIENCY and lv["tasks_per_second"] > 0]
    per_replica = min((lv["tasks_per_second"] / lv["replicas"] for lv in scaled or workers[:1]), default=0.0)
    if per_replica <= 0:
        raise StackyardError(f"{source}: no task completed during the measurement",
                             "check the stack (`inv status`) and measure again")
    busiest = max(workers, key=lambda lv: lv["tasks_per_second"])
    cpu_per_task = {name: cores / busiest["tasks_per_second"] for name, cores in busiest.get("cpu_cores", {}).items()}
    replicas_at_busiest = {name: 1 for name in cpu_per_task} | {"worker": busiest["replicas"]}
    peak = {name: cores / replicas_at_busiest[name] for name, cores in busiest.get("cpu_cores", {}).items()}
    settings = data.get("settings", {})
    return Measurement(source, per_replica, int(settings.get("worker.concurrency", 1)),
                       float(settings.get("model.first_token_ms", 0)), cpu_per_task, peak)


def cores_text(cores: float) -> str:
    return f"{max(50, math.ceil(cores * 1000 / 50) * 50)}m"


def bounds(needed: int, stage: str, config: StackConfig) -> tuple[int, int]:
    planning = config.loadtest.capacity
    low = max(planning.production_min_replicas, math.ceil(needed * 0.5)) if stage == "production" else 1
    high = max(low + 1, math.ceil(needed * planning.headroom))
    return low, high


def plan(measured: Measurement, target_rps: float, config: StackConfig, stage: str) -> StagePlan:
    planning = config.loadtest.capacity
    load = target_rps * (planning.staging_share if stage == "staging" else 1.0)
    util = planning.target_utilization
    result = StagePlan(stage, round(load, 3))
    concurrency = config.worker.concurrency
    per_worker = measured.worker_tasks_per_second * concurrency / max(measured.worker_concurrency, 1)
    workers = max(1, math.ceil(load / (per_worker * util)))
    low, high = bounds(workers, stage, config)
    worker_cpu = measured.cpu_per_task.get("worker", 0.0) * per_worker
    result.components.append(ComponentPlan(
        "worker", workers, low, high, cores_text(max(worker_cpu, MIN_REQUEST_CORES)),
        f"{WORKER_METRIC} (per worker, AverageValue)", f"{IN_FLIGHT_SHARE * concurrency:g}"))
    for name in CPU_COMPONENTS:
        per_task = measured.cpu_per_task.get(name)
        if per_task is None:
            continue
        request = max(MIN_REQUEST_CORES, math.ceil(measured.peak_cores.get(name, 0.0) * 20) / 20)
        needed = max(1, math.ceil(load * per_task / (request * util)))
        low, high = bounds(needed, stage, config)
        result.components.append(ComponentPlan(name, needed, low, high, cores_text(request), "cpu (Utilization)",
                                               f"{round(util * 100)}%"))
    result.assumptions = [
        f"a worker completes {measured.worker_tasks_per_second:.2f} tasks/s at concurrency "
        f"{measured.worker_concurrency} (measured, {measured.source}); at this stage's concurrency {concurrency}: "
        f"{per_worker:.2f} tasks/s",
        f"model latency as measured (first token {measured.model_first_token_ms:.0f} ms): a slower model "
        "needs proportionally more workers",
        f"{stage} is sized for {load:g} tasks/s" + (f" ({planning.staging_share:.0%} of the target)"
                                                     if stage == "staging" else ""),
        *fit_connection_budget(result, config, stage),
    ]
    return result


def fit_connection_budget(result: StagePlan, config: StackConfig, stage: str) -> list[str]:
    """Lower the planned Postgres clients' max replicas until pool × max, summed, fits the budget;
    return what was assumed and done, for the plan's assumptions."""
    clients = connection_budget.postgres_components()
    pools = {c: connection_budget.pool_of(c, mapping.service_env(config, c)) for c in clients}
    planned = {c.component: c for c in result.components if c.component in clients}
    fixed = {c: config.loadtest.capacity.production_min_replicas if stage == "production" else 1
             for c in clients if c not in planned}
    proposed = {name: c.max_replicas for name, c in planned.items()}

    def uses() -> list[connection_budget.PoolUse]:
        return [connection_budget.PoolUse(c, pools[c], planned[c].max_replicas if c in planned else fixed[c])
                for c in clients]

    while sum(u.connections for u in uses()) > connection_budget.budget(config):
        shrinkable = [c for c in planned.values() if c.max_replicas > c.min_replicas]
        if not shrinkable:
            break
        max(shrinkable, key=lambda c: (pools[c.component] * c.max_replicas, c.component)).max_replicas -= 1
    rule = "production_min_replicas" if stage == "production" else "1"
    counted = f" ({', '.join(fixed)} not planned here: counted at {rule})" if fixed else ""
    total = sum(u.connections for u in uses())
    within = "≤" if total <= connection_budget.budget(config) else ">"
    notes = [f"Postgres connections (pool × max replicas): {connection_budget.describe(uses())} {within} "
             f"the budget of {connection_budget.budget_text(config)}{counted}"]
    capped = [f"{name} {proposed[name]} → {c.max_replicas}" for name, c in planned.items()
              if c.max_replicas < proposed[name]]
    if capped:
        notes.append(f"max replicas capped to fit the connection budget: {', '.join(capped)}")
    short = [f"{c.component} (max {c.max_replicas}, needs {c.replicas_needed})" for c in planned.values()
             if c.max_replicas < c.replicas_needed]
    if within == ">" or short:
        notes.append(f"the connection budget cannot hold the load{': ' + ', '.join(short) if short else ''} — "
                     "raise postgres.max_connections in envs/ or lower the pool (STACKYARD_DATABASE_POOL_SIZE)")
    return notes


def table(plans: list[StagePlan], measured: Measurement) -> str:
    lines = []
    for stage_plan in plans:
        lines.append(f"{stage_plan.stage} ({stage_plan.target_rps:g} tasks/s):")
        lines.append(f"  {'COMPONENT':<10} {'NEEDED':>6} {'MIN':>4} {'MAX':>4} {'CPU REQUEST':>11}  HPA TARGET")
        for c in stage_plan.components:
            lines.append(f"  {c.component:<10} {c.replicas_needed:>6} {c.min_replicas:>4} {c.max_replicas:>4} "
                         f"{c.cpu_request:>11}  {c.hpa_metric} = {c.hpa_target}")
        lines += [f"  · {a}" for a in stage_plan.assumptions]
    return "\n".join(lines)


def patch_documents(stage_plan: StagePlan) -> list[dict[str, Any]]:
    """Strategic-merge patches for an overlay: HPA bounds and targets, Deployment CPU requests."""
    docs: list[dict[str, Any]] = []
    for c in stage_plan.components:
        if c.component == "worker":
            metric = {"type": "Object", "object": {
                "describedObject": {"apiVersion": "v1", "kind": "Service", "name": "orchestrator"},
                "metric": {"name": WORKER_METRIC},
                "target": {"type": "AverageValue", "averageValue": c.hpa_target}}}
        else:
            metric = {"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": int(c.hpa_target.rstrip("%"))}}}
        docs.append({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                     "metadata": {"name": c.component},
                     "spec": {"minReplicas": c.min_replicas, "maxReplicas": c.max_replicas, "metrics": [metric]}})
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": c.component},
                     "spec": {"template": {"spec": {"containers": [
                         {"name": c.component, "resources": {"requests": {"cpu": c.cpu_request}}}]}}}})
    return docs


def write_patches(plans: list[StagePlan], directory: Path) -> list[Path]:
    """One patch file per stage under `directory`; an existing file is never overwritten."""
    targets = [directory / f"{p.stage}-capacity.yaml" for p in plans]
    existing = [t for t in targets if t.exists()]
    if existing:
        raise StackyardError(f"{existing[0]} exists; capacity patches never overwrite a file",
                             "choose another --write-patch directory, or remove that file yourself")
    directory.mkdir(parents=True, exist_ok=True)
    for stage_plan, target in zip(plans, targets, strict=True):
        header = (f"# Capacity plan for {stage_plan.stage} at {stage_plan.target_rps:g} tasks/s, from "
                  "`inv capacity`.\n# " + "\n# ".join(stage_plan.assumptions) + "\n# Use it from "
                  f"deploy/orchestration/overlays/{stage_plan.stage}/kustomization.yaml: patches: [{{path: ...}}]\n")
        target.write_text(header + yaml.safe_dump_all(patch_documents(stage_plan), sort_keys=False))
    return targets
