"""Memory service against a real Postgres: ordered history, idempotent writes, recall, JSON errors."""

import uuid

import httpx
import pytest
from stackyard.memory.app import Settings, build_app

from tests.integration.support import ServedApp

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
