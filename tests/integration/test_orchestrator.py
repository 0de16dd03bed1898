"""Orchestrator against real Postgres and Redis: task → step, result → task, idempotent, reconciled."""

import json
import uuid

import pytest
import redis
from stackyard.orchestrator.app import Settings, build_app

from tests.integration.support import ServedApp, eventually, execute, fetch

pytestmark = pytest.mark.integration


@pytest.fixture
def orchestrator(postgres_url: str, redis_url: str, streams: dict[str, str]) -> ServedApp:
    settings = Settings(stage="test", database_url=postgres_url, redis_url=redis_url,
                        republish_after_seconds=0.5, reconcile_interval_seconds=0.2, **streams)
    with ServedApp(build_app(settings)) as served:
        yield served


def new_task(postgres_url: str, *, published: bool = True, agent: str = "chat", text: str = "hello") -> uuid.UUID:
    task_id = uuid.uuid4()
    execute(postgres_url, "INSERT INTO tasks (id, agent, input, session_id, published_at) VALUES "
            "($1, $3, $4, 'sess', CASE WHEN $2 THEN now() END)", task_id, published, agent, text)
    return task_id


def task_row(postgres_url: str, task_id: uuid.UUID) -> dict[str, object]:
    return fetch(postgres_url, "SELECT * FROM tasks WHERE id = $1", task_id)[0]


def test_task_becomes_a_step_and_a_result_completes_it(
        orchestrator: ServedApp, postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    task_id = new_task(postgres_url)
    r.xadd(streams["tasks_stream"], {"task_id": str(task_id)})
    steps = eventually(lambda: r.xrange(streams["steps_stream"]))
    assert steps[0][1] == {"task_id": str(task_id), "step_no": "0", "kind": "chat",
                           "input": "hello", "session_id": "sess", "tool": "", "context": ""}
    assert task_row(postgres_url, task_id)["status"] == "running"

    result = {"task_id": str(task_id), "step_no": "0", "status": "completed", "output": "answer", "error": ""}
    r.xadd(streams["results_stream"], result)
    eventually(lambda: task_row(postgres_url, task_id)["status"] == "completed")
    row = task_row(postgres_url, task_id)
    assert row["result"] == "answer" and row["error"] is None and row["completed_at"] is not None

    # A duplicate delivery of the same result, or a late failure, changes nothing.
    r.xadd(streams["results_stream"], {**result, "status": "failed", "output": "", "error": "late"})
    r.xadd(streams["tasks_stream"], {"task_id": str(task_id)})
    eventually(lambda: not any(g["pending"] or g["lag"] for s in (streams["results_stream"], streams["tasks_stream"])
                               for g in r.xinfo_groups(s)))
    assert task_row(postgres_url, task_id)["result"] == "answer"
    assert len(r.xrange(streams["steps_stream"])) == 1
    steps_rows = fetch(postgres_url, "SELECT status, output FROM steps WHERE task_id = $1", task_id)
    assert steps_rows == [{"status": "completed", "output": "answer"}]


def test_reconciler_republishes_committed_but_unpublished_tasks(
        orchestrator: ServedApp, postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    task_id = new_task(postgres_url, published=False)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    steps = eventually(lambda: [f for _, f in r.xrange(streams["steps_stream"]) if f["task_id"] == str(task_id)])
    assert len(steps) == 1
    assert task_row(postgres_url, task_id)["published_at"] is not None


def test_failed_step_fails_the_task_with_its_reason(
        orchestrator: ServedApp, postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    task_id = new_task(postgres_url)
    r.xadd(streams["tasks_stream"], {"task_id": str(task_id)})
    eventually(lambda: task_row(postgres_url, task_id)["status"] == "running")
    r.xadd(streams["results_stream"], {"task_id": str(task_id), "step_no": "0", "status": "failed",
                                       "output": "", "error": "model unavailable"})
    eventually(lambda: task_row(postgres_url, task_id)["status"] == "failed")
    assert task_row(postgres_url, task_id)["error"] == "model unavailable"


def test_planner_fans_out_in_parallel_then_synthesises(
        orchestrator: ServedApp, postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    task_id = new_task(postgres_url, agent="planner", text="what is 2+3*4; recall hello; write a haiku")
    r.xadd(streams["tasks_stream"], {"task_id": str(task_id)})
    subtasks = eventually(lambda: (lambda s: s if len(s) == 3 else None)(r.xrange(streams["steps_stream"])))
    published = [fields for _, fields in subtasks]
    assert [(f["step_no"], f["kind"], f["tool"]) for f in published] == [
        ("0", "subtask", "calculator"), ("1", "subtask", "memory"), ("2", "subtask", "")]
    # Results arrive out of order; the synthesis is published once, after the last of them.
    for step_no in ("2", "0"):
        r.xadd(streams["results_stream"], {"task_id": str(task_id), "step_no": step_no, "status": "completed",
                                           "output": f"out-{step_no}", "error": ""})
    eventually(lambda: fetch(postgres_url, "SELECT count(*) AS n FROM steps WHERE task_id = $1 "
                             "AND status = 'completed'", task_id)[0]["n"] == 2)
    assert len(r.xrange(streams["steps_stream"])) == 3, "synthesis must wait for every subtask"
    r.xadd(streams["results_stream"], {"task_id": str(task_id), "step_no": "1", "status": "completed",
                                       "output": "out-1", "error": ""})
    entries = eventually(lambda: (lambda s: s if len(s) == 4 else None)(r.xrange(streams["steps_stream"])))
    synthesis = entries[3][1]
    assert synthesis["kind"] == "synthesis" and synthesis["step_no"] == "3"
    assert [p["output"] for p in json.loads(synthesis["context"])] == ["out-0", "out-1", "out-2"]
    r.xadd(streams["results_stream"], {"task_id": str(task_id), "step_no": "3", "status": "completed",
                                       "output": "final answer", "error": ""})
    eventually(lambda: task_row(postgres_url, task_id)["status"] == "completed")
    assert task_row(postgres_url, task_id)["result"] == "final answer"


def test_overdue_tasks_fail_with_a_timeout(postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    settings = Settings(stage="test", database_url=postgres_url, redis_url=redis_url, task_timeout_seconds=0.5,
                        reconcile_interval_seconds=0.2, **streams)
    task_id = new_task(postgres_url)
    with ServedApp(build_app(settings)):
        eventually(lambda: task_row(postgres_url, task_id)["status"] == "failed")
    assert "timed out" in task_row(postgres_url, task_id)["error"]


def test_steps_lost_with_redis_are_published_again(postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    settings = Settings(stage="test", database_url=postgres_url, redis_url=redis_url, redeliver_after_seconds=0.3,
                        reconcile_interval_seconds=0.2, **streams)
    task_id = new_task(postgres_url)
    # Postgres says the step was published; the stream never got it (Redis lost it).
    execute(postgres_url, "UPDATE tasks SET status = 'running' WHERE id = $1", task_id)
    execute(postgres_url, "INSERT INTO steps (task_id, step_no, kind, input, status, published_at) "
            "VALUES ($1, 0, 'chat', 'hello', 'queued', now() - interval '1 minute')", task_id)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    with ServedApp(build_app(settings)):
        steps = eventually(lambda: [f for _, f in r.xrange(streams["steps_stream"]) if f["task_id"] == str(task_id)])
    assert steps[0]["input"] == "hello" and steps[0]["kind"] == "chat"
