"""`inv loadtest`, `inv loadtest.scaling` and `inv capacity` through the real CLI, on one compose stack.

One stack (its own project and port) serves every test; a seeded regression is one `inv up` with an
environment override, which recreates only the containers whose settings changed. Figures are
printed, never asserted as times: each assertion holds however slow the machine is (a slower model
can only make completion slower; injected failures can only fail tasks).
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import free_port
from tooling.images import ImagePlan

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")
PROJECT = f"stackyard-load-{uuid.uuid4().hex[:6]}"
BASE_ENV = {"STACKYARD__COMPOSE__PROJECT_NAME": PROJECT}
SMOKE = ("--profile", "smoke", "--users", "4", "--duration", "12s")


def inv(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **BASE_ENV, **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def stack(stack_images: ImagePlan) -> Iterator[str]:
    port = str(free_port())
    up = inv("up", "--stage", "ci", "--port", port)
    assert up.returncode == 0, f"inv up failed:\n{up.stderr[-3000:]}"
    try:
        yield port
    finally:
        down = inv("down", "--stage", "ci", "--volumes")
        assert down.returncode == 0, down.stderr


def reconfigure(port: str, env: dict[str, str]) -> None:
    up = inv("up", "--stage", "ci", "--port", port, env=env)
    assert up.returncode == 0, f"inv up with {env} failed:\n{up.stderr[-3000:]}"


def loadtest(report: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    result = inv("loadtest", "--target", "compose", "--stage", "ci", "--report", str(report), "--json", *SMOKE,
                 *extra, env=env)
    assert result.returncode in (0, 1), f"the run could not be made (exit {result.returncode}):\n{result.stderr}"
    print(f"\n{result.stderr[-1500:]}")
    verdict: dict[str, object] = json.loads(result.stdout)
    assert verdict == json.loads((report / "verdict.json").read_text())
    return result.returncode, verdict


def slos(verdict: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["name"]: s for s in verdict["slos"]}  # type: ignore[attr-defined, index]


def test_smoke_writes_verdict_report_and_csvs_and_exits_by_the_verdict(stack: str, tmp_path: Path) -> None:
    code, verdict = loadtest(tmp_path)
    assert code == (0 if verdict["passed"] else 1)
    assert set(slos(verdict)) == {"accept_p50", "accept_p95", "accept_p99", "completion_p95", "http_error_rate",
                                  "task_error_rate", "throughput"}
    assert slos(verdict)["http_error_rate"]["passed"] and slos(verdict)["task_error_rate"]["passed"]
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") >= 6 and "Replicas per component" in page
    assert "src=\"http" not in page and "<script" not in page  # self-contained
    header = (tmp_path / "locust_stats.csv").read_text().splitlines()[0]
    assert header.startswith("Type,Name,Request Count")
    assert "chat end to end" in (tmp_path / "locust_stats.csv").read_text()


def test_a_ten_times_slower_model_breaches_the_completion_slo(stack: str, tmp_path: Path) -> None:
    # ci's model: 10 ms to the first token, 1000 tokens/s. Ten times slower than the dev model (50 ms, 200/s)
    # is 500 ms and 20/s: a chat answer of ~10 tokens then takes ≥ 1 s in the model alone.
    reconfigure(stack, {"STACKYARD__MODEL__FIRST_TOKEN_MS": "500", "STACKYARD__MODEL__TOKENS_PER_SECOND": "20"})
    code, verdict = loadtest(tmp_path, env={"STACKYARD__LOADTEST__SLO__COMPLETION_P95_MS": "900"})
    assert code == 1
    completion = slos(verdict)["completion_p95"]
    assert completion["passed"] is False and completion["measured"] > 900  # type: ignore[operator]


def test_a_worker_failing_a_fifth_of_steps_breaches_the_error_rate(stack: str, tmp_path: Path) -> None:
    reconfigure(stack, {"STACKYARD__WORKER__FAILURE_RATE": "0.2"})  # the model is back to ci's speed
    code, verdict = loadtest(tmp_path)
    assert code == 1
    errors = slos(verdict)["task_error_rate"]
    assert errors["passed"] is False and errors["measured"] > 0.05  # type: ignore[operator]
    assert "injected failure" in json.dumps(verdict["summary"])


def test_scaling_measures_each_worker_count_then_capacity_plans_from_it(stack: str, tmp_path: Path) -> None:
    reconfigure(stack, {})
    result = inv("loadtest.scaling", "--stage", "ci", "--scale", "worker=1,2", "--duration", "8", "--users", "8",
                 "--report", str(tmp_path / "scaling"), "--json", timeout=900,
                 env={"STACKYARD__LOADTEST__SCALING_RUN__WARMUP_SECONDS": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    print(f"\n{result.stderr[-1200:]}")
    measured = json.loads(result.stdout)
    levels = measured["series"][0]["levels"]
    assert [lv["replicas"] for lv in levels] == [1, 2]
    assert all(lv["tasks"] > 0 and lv["task_error_rate"] == 0 for lv in levels)
    assert levels[0]["efficiency"] == 1.0 and levels[1]["speedup"] > 0
    assert (tmp_path / "scaling" / "scaling.html").read_text().count("<svg") == 1
    status = json.loads(inv("status", "--stage", "ci", "--json").stdout)
    assert sum(1 for row in status if row["service"] == "worker") == 1  # put back as it was

    plan = inv("capacity", "--target-rps", "20", "--scaling", str(tmp_path / "scaling" / "scaling.json"),
               "--write-patch", str(tmp_path / "patches"), "--json")
    assert plan.returncode == 0, plan.stderr
    stages = {p["stage"]: p for p in json.loads(plan.stdout)}
    assert set(stages) == {"staging", "production"}
    assert (tmp_path / "patches" / "production-capacity.yaml").exists()
    print(plan.stderr)


def test_a_stack_that_is_not_running_exits_2(stack_images: ImagePlan, tmp_path: Path) -> None:
    result = inv("loadtest", "--stage", "ci", "--report", str(tmp_path),
                 env={"STACKYARD__COMPOSE__PROJECT_NAME": f"stackyard-load-absent-{uuid.uuid4().hex[:6]}"})
    assert result.returncode == 2, result.stderr
    assert "inv up" in result.stderr
