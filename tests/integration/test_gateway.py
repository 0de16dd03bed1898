"""Gateway against real Postgres and Redis: commit then publish, task views, and 4xx for bad input."""

import uuid

import httpx
import pytest
import redis

from stackyard.gateway.app import Settings, build_app
from tests.integration.support import ServedApp, fetch

pytestmark = pytest.mark.integration


def gateway_settings(postgres_url: str, redis_url: str, streams: dict[str, str], **extra: object) -> Settings:
    values: dict[str, object] = dict(stage="test", database_url=postgres_url, redis_url=redis_url,
                                     memory_url="http://127.0.0.1:9", require_api_key=False)
    return Settings(**{**values, **streams, **extra})


@pytest.fixture
def gateway(postgres_url: str, redis_url: str, streams: dict[str, str]) -> ServedApp:
    with ServedApp(build_app(gateway_settings(postgres_url, redis_url, streams))) as served:
        yield served


def test_accepting_a_task_commits_the_row_then_publishes(
        gateway: ServedApp, postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    response = httpx.post(gateway.url + "/v1/tasks", json={"agent": "chat", "input": "hi", "session_id": "s-1"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["session_id"] == "s-1"
    rows = fetch(postgres_url, "SELECT status, input, published_at FROM tasks WHERE id = $1", uuid.UUID(body["id"]))
    assert rows[0]["status"] == "queued" and rows[0]["input"] == "hi" and rows[0]["published_at"] is not None
    entries = redis.Redis.from_url(redis_url, decode_responses=True).xrange(streams["tasks_stream"])
    assert [fields["task_id"] for _, fields in entries] == [body["id"]]

    view = httpx.get(f"{gateway.url}/v1/tasks/{body['id']}").json()
    assert view["status"] == "queued" and view["result"] is None and view["completed_at"] is None
    assert set(view) >= {"id", "status", "result", "error", "created_at", "completed_at"}


def test_a_session_is_created_when_none_is_given(gateway: ServedApp) -> None:
    body = httpx.post(gateway.url + "/v1/tasks", json={"agent": "chat", "input": "hi"}).json()
    assert body["session_id"].startswith("session-")


@pytest.mark.parametrize("content,status,fragment", [
    (b"{not json", 400, "malformed JSON"),
    (b'{"agent": "chat"}', 422, "input"),
    (b'{"agent": "chat", "input": ""}', 422, "empty"),
    (b'{"agent": "chat", "input": "   "}', 422, "empty"),
    (b'{"agent": "poet", "input": "x"}', 422, "unknown agent"),
    (b'{"agent": "chat", "input": "x", "session_id": "no spaces"}', 422, "session_id"),
    (b"[]", 422, "body"),
    (b'{"agent": "chat", "input": "' + b"a" * (1024 * 1024 + 10) + b'"}', 413, "request body over"),
])
def test_bad_input_gets_a_json_4xx(gateway: ServedApp, content: bytes, status: int, fragment: str) -> None:
    response = httpx.post(gateway.url + "/v1/tasks", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


def test_a_chunked_body_over_the_limit_is_refused(gateway: ServedApp) -> None:
    def chunks():  # no Content-Length: the limit must hold while streaming
        yield b'{"agent": "chat", "input": "'
        for _ in range(300):
            yield b"a" * 4096
        yield b'"}'
    response = httpx.post(gateway.url + "/v1/tasks", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "error" in response.json()


def test_unknown_and_malformed_task_ids(gateway: ServedApp) -> None:
    missing = httpx.get(f"{gateway.url}/v1/tasks/{uuid.uuid4()}")
    assert missing.status_code == 404 and "not found" in missing.json()["error"]
    malformed = httpx.get(f"{gateway.url}/v1/tasks/not-a-uuid")
    assert malformed.status_code == 422 and "error" in malformed.json()
    assert httpx.get(f"{gateway.url}/v1/nothing").status_code == 404


def test_api_keys_are_enforced_when_required(postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    settings = gateway_settings(postgres_url, redis_url, streams, require_api_key=True, api_keys=["k-1"])
    with ServedApp(build_app(settings)) as served:
        task = {"agent": "chat", "input": "x"}
        denied = httpx.post(served.url + "/v1/tasks", json=task)
        assert denied.status_code == 401 and "API key" in denied.json()["error"]
        wrong = httpx.post(served.url + "/v1/tasks", json=task, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = httpx.post(served.url + "/v1/tasks", json=task, headers={"Authorization": "Bearer k-1"})
        assert allowed.status_code == 202


def test_keys_cannot_be_disabled_outside_dev_stages(postgres_url: str, redis_url: str) -> None:
    with pytest.raises(ValueError, match="only be disabled"):
        Settings(stage="production", database_url=postgres_url, redis_url=redis_url,
                 memory_url="http://x", require_api_key=False)
    with pytest.raises(ValueError, match="STACKYARD_API_KEYS is empty"):
        Settings(stage="production", database_url=postgres_url, redis_url=redis_url, memory_url="http://x")


def test_readiness_reports_each_dependency(gateway: ServedApp) -> None:
    ready = httpx.get(gateway.url + "/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok"}
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'http_requests_total{method="GET",route="/readyz",status="200"}' in metrics
