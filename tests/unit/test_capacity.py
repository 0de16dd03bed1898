"""`inv capacity`: measured per-replica capacity → requests, HPA targets and bounds; patches never overwrite."""

from pathlib import Path

import pytest
import yaml

from tooling import config
from tooling.errors import StackyardError
from tooling.loadtest import capacity

ROOT = Path(__file__).resolve().parents[2]
# The shape `inv loadtest.scaling` writes (scaling.json), with round figures.
SCALING = {
    "settings": {"worker.concurrency": 2, "model.first_token_ms": 500, "model.tokens_per_second": 200},
    "series": [{"service": "worker", "levels": [
        {"replicas": 1, "tasks_per_second": 3.0, "efficiency": 1.0, "cpu_cores": {"worker": 0.06, "gateway": 0.1}},
        {"replicas": 2, "tasks_per_second": 5.8, "efficiency": 0.967, "cpu_cores": {"worker": 0.12, "gateway": 0.2}},
        {"replicas": 4, "tasks_per_second": 8.0, "efficiency": 0.667,
         "cpu_cores": {"worker": 0.2, "gateway": 0.32, "model": 0.08}}]}],
}


def stage(name: str) -> config.StackConfig:
    return config.load(name, ROOT / "envs", environ={})


def test_per_worker_capacity_is_the_lowest_among_steps_that_scaled() -> None:
    measured = capacity.measurement_from(SCALING, "scaling.json")
    assert measured.worker_tasks_per_second == pytest.approx(2.9)  # 5.8 / 2; the 4-worker step scaled poorly
    assert measured.cpu_per_task["gateway"] == pytest.approx(0.04)  # 0.32 cores at 8 tasks/s


def test_production_plan_sizes_workers_for_the_target_with_room() -> None:
    measured = capacity.measurement_from(SCALING, "scaling.json")
    production = stage("production")
    plan = capacity.plan(measured, 100.0, production, "production")
    worker = next(c for c in plan.components if c.component == "worker")
    per_worker = 2.9 * production.worker.concurrency / 2
    assert worker.replicas_needed == -(-100 // (per_worker * 0.7))
    assert worker.min_replicas >= 2 and worker.max_replicas >= worker.replicas_needed * 1.5
    assert worker.hpa_target == f"{capacity.IN_FLIGHT_SHARE * production.worker.concurrency:g}"
    gateway = next(c for c in plan.components if c.component == "gateway")
    assert gateway.hpa_target == "70%" and gateway.cpu_request.endswith("m")


def test_staging_is_sized_for_a_share_of_the_target() -> None:
    measured = capacity.measurement_from(SCALING, "scaling.json")
    staging = capacity.plan(measured, 100.0, stage("staging"), "staging")
    assert staging.target_rps == 25.0 and all(c.min_replicas == 1 for c in staging.components)


def test_patches_are_valid_kustomize_patches_and_never_overwrite(tmp_path: Path) -> None:
    measured = capacity.measurement_from(SCALING, "scaling.json")
    plans = [capacity.plan(measured, 40.0, stage(s), s) for s in ("staging", "production")]
    written = capacity.write_patches(plans, tmp_path / "plan")
    docs = list(yaml.safe_load_all(written[1].read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("HorizontalPodAutoscaler", "worker") in kinds and ("Deployment", "worker") in kinds
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler" and d["metadata"]["name"] == "worker")
    shipped = yaml.safe_load((ROOT / "deploy/orchestration/components/autoscaling/hpa-worker.yaml").read_text())
    name = shipped["spec"]["metrics"][0]["object"]["metric"]["name"]
    assert hpa["spec"]["metrics"][0]["object"]["metric"]["name"] == name == capacity.WORKER_METRIC
    with pytest.raises(StackyardError, match="never overwrite"):
        capacity.write_patches(plans, tmp_path / "plan")


def test_no_measurement_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(StackyardError) as error:
        capacity.load_measurement(tmp_path / "missing.json")
    assert "inv loadtest.scaling" in str(error.value)


# With memory measured too: gateway and memory are the planned Postgres clients.
BUSY = {**SCALING, "series": [{"service": "worker", "levels": [
    {**level, "cpu_cores": {**level["cpu_cores"], "memory": level["cpu_cores"]["gateway"]}}
    for level in SCALING["series"][0]["levels"]]}]}


def test_proposed_bounds_fit_the_connection_budget_and_say_so() -> None:
    measured = capacity.measurement_from(BUSY, "scaling.json")
    production = stage("production")
    plan = capacity.plan(measured, 100.0, production, "production")
    by = {c.component: c for c in plan.components}
    # Uncapped, gateway and memory would each get ceil(17 × 1.5) = 26: 10 × 26 × 2 + 10 × 2 = 540 > 240.
    assert by["gateway"].replicas_needed == by["memory"].replicas_needed == 17
    pools = 10 * by["gateway"].max_replicas + 10 * by["memory"].max_replicas + 10 * 2  # orchestrator at 2
    assert pools <= production.postgres.max_connections - production.postgres.reserve == 240
    assert (by["gateway"].max_replicas, by["memory"].max_replicas) == (11, 11)
    assert by["worker"].max_replicas == 20 and by["model"].max_replicas == 23  # no Postgres: untouched
    assert plan.assumptions[3:] == [
        "Postgres connections (pool × max replicas): gateway 10 × 11 + orchestrator 10 × 2 + memory 10 × 11 = 240 "
        "≤ the budget of 240 (postgres.max_connections 250 − postgres.reserve 10) (orchestrator not planned here: "
        "counted at production_min_replicas)",
        "max replicas capped to fit the connection budget: gateway 26 → 11, memory 26 → 11",
        "the connection budget cannot hold the load: gateway (max 11, needs 17), memory (max 11, needs 17) — "
        "raise postgres.max_connections in envs/ or lower the pool (STACKYARD_DATABASE_POOL_SIZE)"]


def test_a_plan_within_the_budget_is_left_alone() -> None:
    measured = capacity.measurement_from(BUSY, "scaling.json")
    plan = capacity.plan(measured, 10.0, stage("staging"), "staging")
    by = {c.component: c for c in plan.components}
    assert by["gateway"].max_replicas == by["memory"].max_replicas == 2
    assert plan.assumptions[3:] == [
        "Postgres connections (pool × max replicas): gateway 10 × 2 + orchestrator 10 × 1 + memory 10 × 2 = 50 "
        "≤ the budget of 240 (postgres.max_connections 250 − postgres.reserve 10) (orchestrator not planned here: "
        "counted at 1)"]
