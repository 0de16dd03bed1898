"""Memory service against a real Postgres: ordered history, idempotent writes that answer what they
stored, bounded windows read by index, recall, JSON errors."""

import uuid

import httpx
import pytest
from stackyard.memory.app import WINDOW_SQL, Settings, build_app

from tests.integration.support import ServedApp, execute, fetch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def memory(postgres_url: str) -> ServedApp:
    with ServedApp(build_app(Settings(stage="test", database_url=postgres_url))) as served:
        yield served


def test_history_is_ordered_and_writes_are_idempotent(memory: ServedApp) -> None:
    session = f"s-{uuid.uuid4().hex}"
    first = {"task_id": "t1", "step_id": "t1:0", "messages": [
        {"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi!"}]}
    with httpx.Client(base_url=memory.url) as client:
        assert client.post(f"/v1/sessions/{session}/messages", json=first).status_code == 201
        # The same step delivered again stores nothing new.
        assert client.post(f"/v1/sessions/{session}/messages", json=first).status_code == 201
        client.post(f"/v1/sessions/{session}/messages", json={
            "task_id": "t2", "step_id": "t2:0", "messages": [{"role": "user", "content": "weather in Paris?"}]})
        history = client.get(f"/v1/sessions/{session}/messages").json()["messages"]
        assert [(m["role"], m["content"]) for m in history] == [
            ("user", "hello"), ("assistant", "hi!"), ("user", "weather in Paris?")]
        recalled = client.get(f"/v1/sessions/{session}/recall", params={"q": "paris"}).json()["messages"]
        assert [m["content"] for m in recalled] == ["weather in Paris?"]
        assert client.get(f"/v1/sessions/{session}/messages", params={"limit": 1}).json()["messages"][0]["content"] \
            == "weather in Paris?"


@pytest.mark.parametrize("path,body,status", [
    ("/v1/sessions/ok/messages", {"messages": []}, 422),
    ("/v1/sessions/ok/messages", {"messages": [{"role": "wizard", "content": "x"}]}, 422),
    ("/v1/sessions/bad%20id/messages", {"messages": [{"role": "user", "content": "x"}]}, 422),
])
def test_bad_input_is_a_json_4xx(memory: ServedApp, path: str, body: dict[str, object], status: int) -> None:
    response = httpx.post(memory.url + path, json=body)
    assert response.status_code == status
    assert "error" in response.json()


def test_probes(memory: ServedApp) -> None:
    assert httpx.get(memory.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(memory.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok"}
    assert "http_request_duration_seconds_bucket" in httpx.get(memory.url + "/metrics").text


def _turn(task: str, n: int) -> dict[str, object]:
    return {"task_id": task, "step_id": f"{task}:0", "messages": [
        {"role": "user", "content": f"question {n}"}, {"role": "assistant", "content": f"answer {n}"}]}


def test_a_write_answers_what_it_stored_not_the_session(memory: ServedApp) -> None:
    # The answer is the same size at turn 1 as at turn 300: it never carries the session.
    session = f"s-{uuid.uuid4().hex}"
    with httpx.Client(base_url=memory.url) as client:
        first = client.post(f"/v1/sessions/{session}/messages", json=_turn(f"w-{session}-1", 1))
        assert first.status_code == 201
        assert set(first.json()) == {"session_id", "stored", "ids"} and first.json()["stored"] == 2
        client.post(f"/v1/sessions/{session}/messages", json={"messages": [
            {"role": "user", "content": f"filler {n}"} for n in range(100)]})
        client.post(f"/v1/sessions/{session}/messages", json={"messages": [
            {"role": "assistant", "content": f"filler {n}"} for n in range(100)]})
        later = client.post(f"/v1/sessions/{session}/messages", json=_turn(f"w-{session}-2", 2))
        again = client.post(f"/v1/sessions/{session}/messages", json=_turn(f"w-{session}-2", 2))
        history = client.get(f"/v1/sessions/{session}/messages", params={"limit": 1000}).json()["messages"]
    assert len(history) == 204
    assert later.status_code == 201 and len(later.content) <= len(first.content) + 8
    assert later.json() == {"session_id": session, "stored": 2, "ids": [m["id"] for m in history[-2:]]}
    # A redelivered step stores nothing and says so.
    assert again.status_code == 201 and again.json() == {"session_id": session, "stored": 0, "ids": []}


def test_the_window_before_a_step_is_what_its_first_delivery_read(memory: ServedApp) -> None:
    session = f"s-{uuid.uuid4().hex}"
    tasks = [f"b-{session}-{n}" for n in range(6)]
    with httpx.Client(base_url=memory.url) as client:
        for n, task in enumerate(tasks):
            client.post(f"/v1/sessions/{session}/messages", json=_turn(task, n))

        def window(**params: object) -> list[str]:
            got = client.get(f"/v1/sessions/{session}/messages", params={"limit": 4, **params})
            assert got.status_code == 200, got.text
            return [m["content"] for m in got.json()["messages"]]

        # The newest 4, oldest first; before step 3: the 4 before its first message, not its own
        # nor later turns; before a step that wrote nothing (yet): the newest 4.
        assert window() == ["question 4", "answer 4", "question 5", "answer 5"]
        assert window(before_task_id=tasks[3], before_step_id=f"{tasks[3]}:0") == [
            "question 1", "answer 1", "question 2", "answer 2"]
        assert window(before_task_id=tasks[0], before_step_id=f"{tasks[0]}:0") == []
        assert window(before_task_id="new", before_step_id="new:0") == window()
        only_one = client.get(f"/v1/sessions/{session}/messages", params={"before_task_id": tasks[3]})
        assert only_one.status_code == 422 and "error" in only_one.json()


def test_the_window_read_is_a_bounded_index_scan(memory: ServedApp, postgres_url: str) -> None:
    # A long session, a quarter of the table, then 30,000 newer messages of other sessions: the
    # plan walks messages_session backwards and stops at the limit (no sequential scan, no sort of
    # the session, no walk of the primary key through the newer messages), and finds a step's
    # first id by its unique index.
    session, task = f"s-{uuid.uuid4().hex}", f"x-{uuid.uuid4().hex[:8]}-"
    execute(postgres_url, """INSERT INTO messages (session_id, role, content, task_id, step_id, seq)
        SELECT CASE WHEN n <= 10000 THEN $1 ELSE $1 || '-other-' || (n % 97) END, 'user', 'm ' || n,
               $2 || n, $2 || n || ':0', 0 FROM generate_series(1, 40000) AS n""", session, task)
    execute(postgres_url, "ANALYZE messages")
    for before in ((None, None), (f"{task}5000", f"{task}5000:0")):
        plan = "\n".join(r["QUERY PLAN"] for r in fetch(
            postgres_url, "EXPLAIN (ANALYZE, FORMAT TEXT) " + WINDOW_SQL, session, 20, *before))
        assert "Index Scan Backward using messages_session on messages" in plan, plan
        assert "Seq Scan" not in plan and "Bitmap" not in plan, plan
        # Rows read from the session's index: the window, not the session's 10,000.
        scanned = [line for line in plan.splitlines() if "messages_session" in line][0]
        assert "rows=20 " in scanned, plan
