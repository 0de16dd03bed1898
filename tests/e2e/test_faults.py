"""The stack loses nothing under faults (issue: durable orchestration), proven on real containers.

One stack (stage ci: short retry windows, a poison marker) with two gateways behind the edge
proxy and two workers. Set STACKYARD_FAULT_SEED to replay the random moments of a run.
"""

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.faults import (
    Outcome,
    Stack,
    assert_one_turn_per_task,
    docker,
    inv,
    post_many,
    session_messages,
    steady_load,
    submit,
    wait_finished,
)
from tests.integration.support import free_port
from tooling.images import ImagePlan

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(stack_images: ImagePlan) -> Iterator[Stack]:
    project = f"stackyard-faults-{uuid.uuid4().hex[:6]}"
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": project}
    up = inv("up", "--stage", "ci", "--port", str(free_port()), "--scale", "gateway=2", "--scale", "worker=2",
             "--json", env=env)
    assert up.returncode == 0, f"inv up failed:\n{up.stderr}"
    try:
        yield Stack(project, json.loads(up.stdout)["gateway_url"])
    finally:
        inv("down", "--stage", "ci", "--volumes", env=env)


def counter(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def gateway_counts(stack: Stack) -> tuple[float, float]:
    posts = accepted = 0.0
    for index in (1, 2):
        text = stack.metrics(stack.container("gateway", index))
        posts += counter(text, "http_requests_total", method="POST", route="/v1/tasks", status="202")
        accepted += counter(text, "stackyard_tasks_accepted_total", agent="chat")
    return posts, accepted


def test_metrics_count_what_was_sent(stack: Stack) -> None:
    posts_before, accepted_before = gateway_counts(stack)
    finished_before = counter(stack.metrics(stack.container("orchestrator")), "stackyard_tasks_finished_total",
                              status="completed")
    outcome = post_many(stack.url, [f"metrics-{uuid.uuid4().hex[:8]}-{n}" for n in range(40)], per_session=5)
    assert not outcome.failures and len(outcome.accepted) == 200
    wait_finished(stack.url, list(outcome.accepted))
    posts, accepted = gateway_counts(stack)
    finished = counter(stack.metrics(stack.container("orchestrator")), "stackyard_tasks_finished_total",
                       status="completed")
    for measured in (posts - posts_before, accepted - accepted_before, finished - finished_before):
        assert abs(measured - 200) <= 2, f"counted {measured} of 200"


def test_duplicate_idempotency_key_makes_one_task_and_one_effect(stack: Stack) -> None:
    outcome, session, key = Outcome(), f"idem-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        ids = {submit(client, outcome, "only once", session, **{"Idempotency-Key": key}) for _ in range(3)}
    assert len(ids) == 1 and None not in ids
    wait_finished(stack.url, list(ids))
    assert [m["role"] for m in session_messages(stack.url, session)] == ["user", "assistant"]


def test_worker_crashes_lose_and_duplicate_nothing(stack: Stack) -> None:
    seed = int(os.environ.get("STACKYARD_FAULT_SEED") or random.randrange(1 << 30))
    print(f"\nworker-crash seed: {seed} (STACKYARD_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    sessions = [f"crash-{uuid.uuid4().hex[:8]}-{n}" for n in range(100)]
    kills: list[str] = []

    def killer() -> None:
        for _ in range(3):
            time.sleep(rng.uniform(0.5, 3.0))
            victim = stack.container("worker", rng.choice((1, 2)))
            stack.wait_healthy(victim)
            stack.crash(victim)
            kills.append(victim)

    thread = threading.Thread(target=killer)
    thread.start()
    outcome = post_many(stack.url, sessions, per_session=5)
    thread.join()
    print(f"killed: {kills}")
    assert not outcome.failures, outcome.failures[:5]
    assert len(outcome.accepted) == 500
    views = wait_finished(stack.url, list(outcome.accepted), timeout=240)
    failed = [(v["id"], v["error"]) for v in views.values() if v["status"] != "completed"]
    assert not failed, f"{len(failed)} failed, e.g. {failed[:3]}"
    assert_one_turn_per_task(stack.url, outcome)


def test_orchestrator_and_redis_restarts_lose_no_accepted_task(stack: Stack) -> None:
    outcome = Outcome()
    with steady_load(stack.url, outcome):
        time.sleep(2)
        docker("restart", stack.container("orchestrator"))
        time.sleep(3)
        docker("restart", stack.container("redis"))
        time.sleep(5)
    assert len(outcome.accepted) > 20
    views = wait_finished(stack.url, list(outcome.accepted), timeout=180)
    assert {v["status"] for v in views.values()} == {"completed"}
    print(f"\n{len(outcome.accepted)} accepted during the restarts; refused: {len(outcome.failures)}")


def test_postgres_outage_refuses_new_work_and_finishes_accepted_work(stack: Stack) -> None:
    before = post_many(stack.url, [f"pg-{uuid.uuid4().hex[:8]}-{n}" for n in range(10)], per_session=3)
    assert not before.failures
    restarts = stack.restart_counts()
    docker("stop", stack.container("postgres"))
    try:
        deadline = time.monotonic() + 20
        seen_not_ready = False
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            while time.monotonic() < deadline:
                assert client.get("/healthz").status_code == 200, "liveness must not depend on Postgres"
                if client.get("/readyz").status_code == 503:
                    seen_not_ready = True
                refused = client.post("/v1/tasks", json={"agent": "chat", "input": "during the outage"})
                assert refused.status_code == 503 and "error" in refused.json(), refused.text
                time.sleep(1)
        assert seen_not_ready, "readiness never turned false"
        assert stack.restart_counts() == restarts, "no container may restart because Postgres is down"
    finally:
        docker("start", stack.container("postgres"))
    views = wait_finished(stack.url, list(before.accepted), timeout=180)
    assert {v["status"] for v in views.values()} == {"completed"}
    assert_one_turn_per_task(stack.url, before)


def test_poison_step_is_dead_lettered_and_others_keep_flowing(stack: Stack) -> None:
    outcome = Outcome()
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        poison = submit(client, outcome, "this is __poison__", f"poison-{uuid.uuid4().hex[:8]}")
        assert poison
        others = post_many(stack.url, [f"healthy-{uuid.uuid4().hex[:8]}-{n}" for n in range(10)], per_session=2)
    assert not others.failures
    views = wait_finished(stack.url, list(others.accepted), timeout=60)
    assert {v["status"] for v in views.values()} == {"completed"}, "other tasks must keep flowing"
    final = wait_finished(stack.url, [poison], timeout=120)[poison]
    assert final["status"] == "failed" and "deliveries" in final["error"]
    assert poison in stack.redis("XRANGE", "stackyard:dead-letter", "-", "+")


def test_rolling_restart_under_load_fails_no_request(stack: Stack) -> None:
    outcome = Outcome()
    order = [stack.container("gateway", 1), stack.container("gateway", 2), stack.container("worker", 1),
             stack.container("worker", 2), stack.container("orchestrator")]
    with steady_load(stack.url, outcome):
        for container in order:
            time.sleep(1)
            docker("stop", "--time", "30", container)
            exit_code = stack.inspect(container)["State"]["ExitCode"]
            assert exit_code == 0, f"{container} exited {exit_code} on SIGTERM"
            docker("start", container)
            stack.wait_healthy(container)
        time.sleep(1)
    assert outcome.failures == [], outcome.failures[:5]
    views = wait_finished(stack.url, list(outcome.accepted), timeout=120)
    assert {v["status"] for v in views.values()} == {"completed"}
    assert_one_turn_per_task(stack.url, outcome)
    print(f"\n{len(outcome.accepted)} tasks during the rolling restart, 0 failed requests")


def test_fuzzing_the_openapi_document_through_the_edge_finds_no_failure_of_any_check(stack: Stack) -> None:
    """Every schemathesis check (server errors, schema conformance, a schema-valid request refused,
    an invalid one accepted, undeclared methods without `Allow`, the stateful links), at the edge."""
    schemathesis = str(os.path.join(os.path.dirname(sys.executable), "schemathesis"))
    result = subprocess.run(
        [schemathesis, "run", f"{stack.url}/openapi.json", "--checks", "all",
         "--max-examples", "40", "--seed", os.environ.get("STACKYARD_FAULT_SEED", "1"), "--no-color"],
        capture_output=True, text=True, timeout=600, check=False)
    summary = result.stdout[-1500:]
    assert result.returncode == 0, summary
    assert re.search(r"\d+ generated, \d+ passed", summary), summary
