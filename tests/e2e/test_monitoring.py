"""Monitoring end to end: `inv monitoring.check` through the real CLI (and that it fails on a
broken rule), then `inv up --stage ci --monitoring` under its own project and ports: targets up,
every dashboard panel answering from the live Prometheus, and the availability alert reaching the
local receiver through Alertmanager when the model stops, then resolving when it is back.

The ci stage compresses the SLO alerts' time 30-fold (envs/ci.yaml, docs/monitoring.md): 1h → 2m,
5m → 10s, `for: 2m` → 4s, so the fire-and-resolve cycle takes about a minute, not hours.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import free_port
from tooling import config, monitoring
from tooling.images import ImagePlan

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")
PROJECT = f"stackyard-e2e-mon-{uuid.uuid4().hex[:6]}"
ALERT = "TaskAvailabilityBurnRatePage"


def inv(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_monitoring_check_passes_through_the_cli(docker_engine: None) -> None:
    result = inv("monitoring.check", "--json")
    assert result.returncode == 0, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    results = json.loads(result.stdout)
    names = [r["name"] for r in results]
    assert all(r["ok"] for r in results)
    for wanted in ("promtool check config (compose)", "promtool check rules (rules and dashboard queries)",
                   "promtool test rules", "amtool check-config", "PromQL metric names"):
        assert any(n.startswith(wanted) for n in names), wanted


def test_monitoring_check_fails_when_a_rule_breaks_its_tests(docker_engine: None, tmp_path: Path) -> None:
    """A page threshold lowered tenfold makes the short spike page: promtool's tests must catch it."""
    for part in (monitoring.MONITORING_DIR, monitoring.SERVICES_SOURCE, monitoring.RUNBOOKS_DIR):
        shutil.copytree(ROOT / part, tmp_path / part)
    slo = tmp_path / monitoring.SLO_RULES_FILE
    slo.write_text(slo.read_text().replace("(14.4 * 0.005)", "(1.44 * 0.005)"))
    cfg = config.load("ci", ROOT / "envs", environ={})
    prometheus_image, alertmanager_image = monitoring.ensure_check_images(cfg, ROOT)
    results = {r.name: r for r in monitoring.run_checks(tmp_path, {"ci": cfg}, prometheus_image, alertmanager_image)}
    assert not results["promtool test rules"].ok
    assert "TaskAvailabilityBurnRatePage" in results["promtool test rules"].detail
    assert not results["slo.rules.yml matches its spec"].ok
    assert results["amtool check-config"].ok


# ---------------------------------------------------------------------------------------------
# The live stack


@pytest.fixture(scope="module")
def stack(stack_images: ImagePlan) -> Iterator[dict[str, str]]:
    env = {
        "STACKYARD__COMPOSE__PROJECT_NAME": PROJECT,
        "STACKYARD__MONITORING__PROMETHEUS_PORT": str(free_port()),
        "STACKYARD__MONITORING__ALERTMANAGER_PORT": str(free_port()),
        "STACKYARD__MONITORING__RECEIVER_PORT": str(free_port()),
        "STACKYARD__MONITORING__GRAFANA_PORT": str(free_port()),
    }
    started = time.monotonic()
    up = inv("up", "--stage", "ci", "--port", str(free_port()), "--monitoring", "--json", env=env)
    assert up.returncode == 0, f"inv up --monitoring failed:\n{up.stderr[-4000:]}"
    summary = json.loads(up.stdout)
    print(f"\ninv up --monitoring: {time.monotonic() - started:.1f}s")
    try:
        yield {"gateway": summary["gateway_url"], **summary["monitoring"], **env}
    finally:
        down = inv("down", "--stage", "ci", "--volumes", env=env)
        assert down.returncode == 0, down.stderr


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def submit(gateway: str, count: int) -> None:
    with httpx.Client(base_url=gateway, timeout=10) as client:
        for n in range(count):
            assert client.post("/v1/tasks", json={"agent": "chat", "input": f"load {n}"}).status_code == 202


def test_every_target_is_up_within_a_minute(stack: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        targets = httpx.get(f"{stack['prometheus']}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        down = [f"{t['labels'].get('service')} {t['scrapeUrl']}: {t['lastError']}"
                for t in targets if t["health"] != "up"]
        services = {t["labels"].get("service") for t in targets}
        if not down and {"gateway", "orchestrator", "worker", "memory", "model", "prometheus",
                         "alertmanager"} <= services:
            break
        assert time.monotonic() < deadline, f"targets not up after a minute: {down}"
        time.sleep(2)
    assert {r["metric"]["service"] for r in query(stack["prometheus"], "up == 1")} >= {
        "gateway", "orchestrator", "worker", "memory", "model"}


def test_every_dashboard_panel_returns_data_after_a_short_load(stack: dict[str, str]) -> None:
    submit(stack["gateway"], 30)
    panels = [p for p in monitoring.dashboard_panels(ROOT) if not p.cluster_only]
    skipped = [f"{p.dashboard}: {p.title}" for p in monitoring.dashboard_panels(ROOT) if p.cluster_only]
    print(f"\ncluster-only panels (kube-state-metrics/cAdvisor, not under compose): {skipped}")
    deadline = time.monotonic() + 60
    while True:
        empty = [f"{p.dashboard}: {p.title}: {e}" for p in panels for e in p.exprs
                 if not query(stack["prometheus"], monitoring.concrete(e))]
        if not empty:
            break
        assert time.monotonic() < deadline, "panels without data:\n" + "\n".join(empty)
        submit(stack["gateway"], 5)
        time.sleep(3)
    assert len(panels) >= 20


def notifications(stack: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(stack["alert_receiver"], timeout=10).json()
    return found


def alert_status(stack: dict[str, str], alertname: str) -> list[tuple[str, float]]:
    """(status, received_at) of each notification that carries the alert."""
    seen = []
    for note in notifications(stack):
        for alert in note["payload"]["alerts"]:
            if alert["labels"]["alertname"] == alertname:
                seen.append((alert["status"], note["received_at"]))
    return seen


def test_model_outage_pages_through_alertmanager_and_resolves(stack: dict[str, str]) -> None:
    fast_for = monitoring.seconds(monitoring.scaled("2m", config.load("ci", ROOT / "envs", environ={})
                                                    .monitoring.slo_time_scale))
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=stack["gateway"], timeout=10) as client:
            while not stop.is_set():
                client.post("/v1/tasks", json={"agent": "chat", "input": "during the outage"})
                time.sleep(0.5)  # 2 tasks a second: enough for the ratio, little backlog to drain

    compose = ["docker", "compose", "--project-name", PROJECT, "--project-directory", str(ROOT),
               "-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "deploy/monitoring/compose.yml"),
               "--env-file", str(ROOT / ".stackyard/compose" / f"{PROJECT}.env")]
    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        assert alert_status(stack, ALERT) == [], "the stack paged before the outage"
        stopped = time.time()
        subprocess.run([*compose, "stop", "model"], check=True, capture_output=True, timeout=60)
        first_failure = fired = None
        while fired is None:
            if first_failure is None and query(stack["prometheus"],
                                               'sum(stackyard_tasks_finished_total{status="failed"}) > 0'):
                first_failure = time.time()
            fired = next((at for status, at in alert_status(stack, ALERT) if status == "firing"), None)
            assert time.time() - stopped < 240, "the availability page never reached the receiver"
            time.sleep(1)
        first_failure = first_failure or fired
        print(f"\nmodel stopped → first failed task {first_failure - stopped:.0f}s → page at the receiver "
              f"{fired - stopped:.0f}s (for: {fast_for:.0f}s in ci)")
        assert fired - first_failure <= fast_for + 60, "the page took longer than its for: plus a minute"

        restarted = time.time()
        subprocess.run([*compose, "start", "model"], check=True, capture_output=True, timeout=60)
        resolved = None
        while resolved is None:
            resolved = next((at for status, at in alert_status(stack, ALERT) if status == "resolved" and at > fired),
                            None)
            # Steps already in their retry backoff when the model returns still fail for a while
            # (delivery.* in envs/ci.yaml); measured: resolved 2 minutes after the restart.
            assert time.time() - restarted < 210, "the page did not resolve after the model came back"
            time.sleep(1)
        print(f"model started → resolved at the receiver after {resolved - restarted:.0f}s")
        receivers = {n["receiver"] for n in notifications(stack)
                     if any(a["labels"]["alertname"] == ALERT for a in n["payload"]["alerts"])}
        assert receivers == {"page"}
    finally:
        stop.set()
        worker.join(timeout=15)
