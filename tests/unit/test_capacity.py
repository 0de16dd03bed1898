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
