"""Gateway against real Postgres and Redis: commit then publish, task views, and 4xx for bad input."""

import json
import re
import time
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


def _published_soon(postgres_url: str, task_id: str, within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if fetch(postgres_url, "SELECT published_at FROM tasks WHERE id = $1", uuid.UUID(task_id))[0]["published_at"]:
            return True
        time.sleep(0.05)
    return False


def _next_xid(postgres_url: str) -> int:
    """The next transaction id Postgres will hand out: each writing transaction takes one, reads none."""
    return int(fetch(postgres_url, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x")[0]["x"])


def test_an_accept_costs_one_postgres_commit_its_published_mark_rides_in_a_shared_batch(
        gateway: ServedApp, postgres_url: str) -> None:
    """The hot path is the INSERT alone: marking published_at per task was a second write each."""
    accepts = 60
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        before = _next_xid(postgres_url)
        ids = [client.post("/v1/tasks", json={"agent": "chat", "input": f"{n}"}).json()["id"] for n in range(accepts)]
        assert _published_soon(postgres_url, ids[-1])
    writes = _next_xid(postgres_url) - before  # the INSERTs and the batched marks, nothing else writes here
    assert writes < accepts * 1.5, f"{writes} writing transactions for {accepts} accepts"
    published = fetch(postgres_url, "SELECT count(*) AS n FROM tasks WHERE id = ANY($1::uuid[]) "
                      "AND published_at IS NOT NULL", [uuid.UUID(i) for i in ids])[0]["n"]
    assert published == accepts


def test_accepting_a_task_commits_the_row_then_publishes(
        gateway: ServedApp, postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    response = httpx.post(gateway.url + "/v1/tasks", json={"agent": "chat", "input": "hi", "session_id": "s-1"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["session_id"] == "s-1"
    rows = fetch(postgres_url, "SELECT status, input FROM tasks WHERE id = $1", uuid.UUID(body["id"]))
    assert rows[0]["status"] == "queued" and rows[0]["input"] == "hi"
    assert _published_soon(postgres_url, body["id"])  # marked in the next batch (gateway/published.py)
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


def test_per_key_rate_limit_answers_429(postgres_url: str, redis_url: str, streams: dict[str, str]) -> None:
    settings = gateway_settings(postgres_url, redis_url, streams, rate_limit_per_second=2)
    with ServedApp(build_app(settings)) as served, httpx.Client(base_url=served.url) as client:
        codes = [client.post("/v1/tasks", json={"agent": "chat", "input": "x"}) for _ in range(5)]
    limited = [r for r in codes if r.status_code == 429]
    # Five requests span at most two one-second windows of two: at least one is refused.
    assert limited and all(r.headers["Retry-After"] == "1" and "rate limit" in r.json()["error"] for r in limited)
    assert {r.status_code for r in codes} <= {202, 429}


def test_a_deep_backlog_answers_429_with_retry_after(postgres_url: str, redis_url: str,
                                                    streams: dict[str, str]) -> None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    r.xgroup_create(streams["steps_stream"], "workers", id="0", mkstream=True)
    for n in range(5):
        r.xadd(streams["steps_stream"], {"n": str(n)})  # undelivered: lag 5
    settings = gateway_settings(postgres_url, redis_url, streams, max_backlog=3)
    with ServedApp(build_app(settings)) as served:
        refused = httpx.post(served.url + "/v1/tasks", json={"agent": "chat", "input": "x"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2" and "backlog of 5" in refused.json()["error"]


def test_nul_and_lone_surrogates_are_422_not_500(gateway: ServedApp) -> None:
    for text in ("a\u0000b", "a\ud800b"):
        response = httpx.post(gateway.url + "/v1/tasks", content=json.dumps({"agent": "chat", "input": text}),
                              headers={"content-type": "application/json"})
        assert response.status_code == 422 and "input" in response.json()["error"]


def test_openapi_document_describes_the_task_api(gateway: ServedApp) -> None:
    document = httpx.get(gateway.url + "/openapi.json").json()
    assert {"/v1/tasks", "/v1/tasks/{task_id}", "/v1/tasks/{task_id}/events",
            "/v1/sessions/{session_id}/messages"} <= set(document["paths"])
    assert "429" in document["paths"]["/v1/tasks"]["post"]["responses"]


def test_openapi_document_states_every_limit_the_gateway_enforces(gateway: ServedApp) -> None:
    """So that a schema-valid request is never refused (schemathesis --checks all: positive data)."""
    document = httpx.get(gateway.url + "/openapi.json").json()
    fields = document["components"]["schemas"]["TaskRequest"]["properties"]
    assert fields["agent"]["enum"] == ["chat", "planner"]
    assert fields["input"]["minLength"] == 1 and fields["input"]["maxLength"] > 0
    pattern = re.compile(fields["input"]["pattern"])
    assert pattern.search(" hello ") and pattern.search("a\nb")
    assert not pattern.search("") and not pattern.search(" \t\n") and not pattern.search("a\x00b")
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for text in (" \t", "a\x00b"):
            refused = client.post("/v1/tasks", json={"agent": "chat", "input": text})
            assert refused.status_code == 422 and refused.json()["error"], refused.text
