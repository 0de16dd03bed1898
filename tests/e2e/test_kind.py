"""The stack on kind, end to end: `inv cluster`, a task through the gateway, an HPA out and back.

Runs wherever kind can start (Docker, the pinned node image or a registry to pull it, kind
v0.32.0 or GitHub to download it). Elsewhere it skips and says what is missing;
STACKYARD_REQUIRE_KIND=1 (CI's kind job) turns that skip into a failure.
STACKYARD_KEEP_KIND=1 keeps the cluster afterwards for a look around.
"""

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tooling import cluster
from tooling.cli.kind import Cluster
from tooling.errors import StackyardError

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")
REQUIRED = os.environ.get("STACKYARD_REQUIRE_KIND") == "1"
API_KEY = "e2e-kind-key"
ENV = {"STACKYARD_API_KEYS": API_KEY, "STACKYARD_POSTGRES_PASSWORD": "e2e-kind-password"}
HEADERS = {"Authorization": f"Bearer {API_KEY}"}

pytestmark = [pytest.mark.e2e, pytest.mark.kind]

# Budgets in seconds, sized for a cold GitHub runner (ubuntu-24.04, 4 cores, no images cached).
# pytest-timeout 2.4.0 (pytest_timeout.py, pytest_runtest_protocol) arms its timer around an item's
# whole protocol — setup, call and teardown — unless func_only/timeout_func_only is set, and takes
# the item's closest `timeout` marker over the ini `timeout = 900`. So whichever kind test runs first
# also pays for the module fixture's setup (the whole cold `inv cluster`), and the last one for its
# teardown: each test's limit is the fixture's budget plus its own. func_only would leave the
# fixture unbounded instead; tests/unit/test_kind_budgets.py checks the arithmetic.
PREFLIGHT_SECONDS = 900  # kind download and the node-image pull (minutes on a slow line)
CLUSTER_SECONDS = 1800  # `inv cluster`: image builds, node start, add-ons, metrics wait
TEARDOWN_SECONDS = 300  # `inv cluster.down`
FIXTURE_SECONDS = PREFLIGHT_SECONDS + CLUSTER_SECONDS + TEARDOWN_SECONDS
STATUS_SECONDS = 60
TASK_SECONDS = 120 + 60  # the task's deadline, plus slow HTTP answers
SCALE_OUT_SECONDS = 240
SCALE_IN_SECONDS = 600  # 120 s stabilization, then halving every 30 s, plus the backlog
LOADTEST_SECONDS = 1800


def budget(own: float) -> pytest.MarkDecorator:
    """pytest-timeout's limit for one kind test: the module fixture's budget plus the test's own."""
    return pytest.mark.timeout(FIXTURE_SECONDS + own)


def inv(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def kind() -> Iterator[Cluster]:
    try:
        # Downloading the pinned kind is what a user's `inv cluster` does; here only where required.
        tools = cluster.preflight(ROOT, download=REQUIRED, pull_node_image=REQUIRED)
    except StackyardError as error:
        reason = f"kind cannot start here: {error}"
        if REQUIRED:
            pytest.fail(f"{reason} (STACKYARD_REQUIRE_KIND=1)")
        pytest.skip(reason)
    result = inv("cluster", timeout=CLUSTER_SECONDS)
    assert result.returncode == 0, f"`inv cluster` failed:\n{result.stderr[-4000:]}"
    assert "phase times:" in result.stderr  # every phase is timed
    handle = cluster.cluster_object(ROOT, tools)
    yield handle
    if os.environ.get("STACKYARD_KEEP_KIND") != "1":
        inv("cluster.down", timeout=TEARDOWN_SECONDS)


def hpa(kind: Cluster, name: str) -> dict[str, object]:
    status: dict[str, object] = json.loads(
        kind.kubectl("get", "hpa", name, "-n", cluster.NAMESPACE, "-o", "json", timeout=30))["status"]
    return status


@budget(STATUS_SECONDS)
def test_status_reports_every_workload_ready(kind: Cluster) -> None:
    result = inv("cluster.status", "--json", timeout=STATUS_SECONDS)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["exists"] is True
    assert {w["name"] for w in status["workloads"]} >= {"gateway", "orchestrator", "worker", "memory", "model",
                                                         "redis", "postgres"}
    assert all(w["ready"] >= 1 for w in status["workloads"]), status["workloads"]
    assert {h["name"] for h in status["autoscalers"]} == {"gateway", "memory", "model", "worker"}
    assert all(h["metrics"] for h in status["autoscalers"]), status["autoscalers"]


@budget(TASK_SECONDS)
def test_a_task_goes_through_the_gateway(kind: Cluster) -> None:
    with httpx.Client(base_url=cluster.GATEWAY_URL, headers=HEADERS, timeout=10) as client:
        accepted = client.post("/v1/tasks", json={"agent": "chat", "input": "hello from kind"})
        assert accepted.status_code == 202, accepted.text
        task_id = accepted.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            view = client.get(f"/v1/tasks/{task_id}")
            assert view.status_code == 200, view.text
            if view.json()["status"] in ("completed", "failed"):
                break
            time.sleep(1)
        assert view.json()["status"] == "completed", view.json()
        assert view.json()["result"]


@budget(SCALE_OUT_SECONDS + 15 + SCALE_IN_SECONDS + 60)  # + the threads' join, + kubectl calls
def test_load_scales_the_workers_out_and_back(kind: Cluster) -> None:
    """A burst of tasks builds a steps backlog; the worker HPA adds workers, then removes them."""
    stop = threading.Event()

    def submit() -> None:
        with httpx.Client(base_url=cluster.GATEWAY_URL, headers=HEADERS, timeout=10) as client:
            while not stop.is_set():
                try:
                    client.post("/v1/tasks", json={"agent": "chat", "input": "scale me " * 50})
                except httpx.HTTPError:
                    time.sleep(0.1)  # 429 backpressure or a restarting pod: keep pushing

    threads = [threading.Thread(target=submit, daemon=True) for _ in range(16)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        peak = 1
        while time.monotonic() - started < SCALE_OUT_SECONDS and peak <= 1:
            peak = max(peak, int(hpa(kind, "worker").get("desiredReplicas") or 1))
            time.sleep(5)
        scaled_out_after = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert peak > 1, "the worker HPA never asked for more than one worker under load"
    print(f"worker HPA scaled out to {peak} after {scaled_out_after:.0f}s")
    deadline = time.monotonic() + SCALE_IN_SECONDS
    while time.monotonic() < deadline:
        status = hpa(kind, "worker")
        if int(status.get("currentReplicas") or 0) <= 1 and int(status.get("desiredReplicas") or 0) <= 1:
            break
        time.sleep(10)
    assert int(hpa(kind, "worker").get("currentReplicas") or 0) <= 1, "workers did not scale back in"


@budget(LOADTEST_SECONDS + 60)
def test_inv_loadtest_on_the_cluster_judges_latency_and_scaling(kind: Cluster, tmp_path: Path) -> None:
    """`inv loadtest --target cluster`: the verdict carries the scaling SLOs from the HPA sampler."""
    result = inv("loadtest", "--target", "cluster", "--profile", "step", "--report", str(tmp_path), "--json",
                 timeout=LOADTEST_SECONDS)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    verdict = json.loads(result.stdout)
    assert {"verdict.json", "report.html"} <= {p.name for p in tmp_path.iterdir()}
    names = {slo["name"] for slo in verdict["slos"]}
    assert any("scale" in name for name in names), names
    assert result.returncode == 0, [s for s in verdict["slos"] if not s["passed"]]
