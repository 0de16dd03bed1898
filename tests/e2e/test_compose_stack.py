"""End to end through the real CLI: `inv up`, tasks through the gateway, `inv status`, `inv down`.

Runs under its own compose project and port, so a developer's running stack is left alone.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.support import free_port
from tooling.images import ImagePlan

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")
PROJECT = f"stackyard-e2e-{uuid.uuid4().hex[:6]}"
SESSIONS, TURNS = 4, 5


def inv(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def stack(stack_images: ImagePlan) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": PROJECT}
    started = time.monotonic()
    up = inv("up", "--stage", "ci", "--port", str(port), "--json", env=env)
    assert up.returncode == 0, f"inv up failed:\n{up.stderr}"
    summary = json.loads(up.stdout)
    print(f"\ninv up (images present): {time.monotonic() - started:.1f}s")
    try:
        yield {"url": summary["gateway_url"], "project": PROJECT, **env}
    finally:
        down = inv("down", "--stage", "ci", "--volumes", env=env)
        assert down.returncode == 0, down.stderr


def docker_ids(kind: str, project: str) -> list[str]:
    argv = ["docker", kind, "ls", "--quiet", "--filter", f"label=com.docker.compose.project={project}"]
    if kind == "container":
        argv.insert(3, "--all")
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def wait_done(client: httpx.Client, task_id: str, timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get(f"/v1/tasks/{task_id}").json()
        if view["status"] in ("completed", "failed"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} not done after {timeout}s: {view}")


def converse(url: str, session: str) -> list[dict[str, object]]:
    """One session's turns, in order (each waits for the previous answer, as a chat client would)."""
    views = []
    with httpx.Client(base_url=url, timeout=10) as client:
        for turn in range(1, TURNS + 1):
            accepted = client.post("/v1/tasks", json={"agent": "chat", "input": f"message {turn} of {session}",
                                                      "session_id": session})
            assert accepted.status_code == 202, accepted.text
            views.append(wait_done(client, accepted.json()["id"]))
    return views


def test_twenty_tasks_complete_with_the_expected_answers_and_history(stack: dict[str, str]) -> None:
    sessions = [f"e2e-{uuid.uuid4().hex[:8]}-{n}" for n in range(SESSIONS)]
    started = time.monotonic()
    with ThreadPoolExecutor(SESSIONS) as pool:
        results = dict(zip(sessions, pool.map(lambda s: converse(stack["url"], s), sessions), strict=True))
    print(f"\n{SESSIONS * TURNS} tasks in {time.monotonic() - started:.1f}s")
    for session, views in results.items():
        assert [v["status"] for v in views] == ["completed"] * TURNS
        expected = [f'Turn {turn}: you said "message {turn} of {session}".' for turn in range(1, TURNS + 1)]
        assert [v["result"] for v in views] == expected
        assert all(v["error"] is None and v["completed_at"] for v in views)
        history = httpx.get(f"{stack['url']}/v1/sessions/{session}/messages").json()["messages"]
        pairs = [(m["role"], m["content"]) for m in history]
        assert pairs == [pair for turn in range(TURNS) for pair in
                         (("user", f"message {turn + 1} of {session}"), ("assistant", expected[turn]))]


def test_one_task_completes_within_five_seconds(stack: dict[str, str]) -> None:
    with httpx.Client(base_url=stack["url"], timeout=10) as client:
        started = time.monotonic()
        task_id = client.post("/v1/tasks", json={"agent": "chat", "input": "quick"}).json()["id"]
        view = wait_done(client, task_id, timeout=5)
    assert view["status"] == "completed"
    print(f"\none task: accepted to completed in {time.monotonic() - started:.2f}s")


def test_bad_requests_get_json_4xx_through_the_published_port(stack: dict[str, str]) -> None:
    with httpx.Client(base_url=stack["url"], timeout=10) as client:
        for body, status in ((b"{", 400), (b'{"agent":"chat","input":""}', 422), (b'{"agent":"x","input":"a"}', 422)):
            response = client.post("/v1/tasks", content=body, headers={"content-type": "application/json"})
            assert response.status_code == status and "error" in response.json()
        assert client.get(f"/v1/tasks/{uuid.uuid4()}").status_code == 404


def test_status_reports_every_service_healthy(stack: dict[str, str]) -> None:
    result = inv("status", "--stage", "ci", "--json", env={"STACKYARD__COMPOSE__PROJECT_NAME": stack["project"]})
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["service"] for r in rows} == {"postgres", "redis", "model", "memory", "orchestrator", "worker",
                                            "gateway", "edge"}
    assert all(r["state"] == "running" and r["health"] == "healthy" for r in rows)
    published = {r["service"]: r["ports"] for r in rows if r["ports"]}
    assert list(published) == ["edge"], "only the edge proxy publishes a port"
    assert any(p.endswith("->8080/tcp") for p in published["edge"])


def test_up_again_is_a_no_op(stack: dict[str, str]) -> None:
    before = sorted(docker_ids("container", stack["project"]))
    port = stack["url"].rsplit(":", 1)[1]
    again = inv("up", "--stage", "ci", "--port", port, env={"STACKYARD__COMPOSE__PROJECT_NAME": stack["project"]})
    assert again.returncode == 0, again.stderr
    assert sorted(docker_ids("container", stack["project"])) == before, "containers were recreated"


def test_down_with_volumes_leaves_nothing_behind(stack_images: ImagePlan) -> None:
    project = f"stackyard-e2e-down-{uuid.uuid4().hex[:6]}"
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": project}
    up = inv("up", "--stage", "ci", "--port", str(free_port()), env=env)
    assert up.returncode == 0, up.stderr
    assert docker_ids("container", project) and docker_ids("volume", project) and docker_ids("network", project)
    down = inv("down", "--stage", "ci", "--volumes", env=env)
    assert down.returncode == 0, down.stderr
    assert (docker_ids("container", project), docker_ids("network", project), docker_ids("volume", project)) \
        == ([], [], [])


def test_events_stream_state_changes_and_tokens(stack: dict[str, str]) -> None:
    with httpx.Client(base_url=stack["url"], timeout=30) as client:
        task_id = client.post("/v1/tasks", json={"agent": "chat", "input": "stream to me"}).json()["id"]
        events: list[tuple[str, dict[str, object]]] = []
        with client.stream("GET", f"/v1/tasks/{task_id}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and events[-1][1]["status"] == "completed"
    # Events are kept in a stream, so even a subscriber arriving after the last token gets them all.
    tokens = "".join(str(data["text"]) for kind, data in events if kind == "token")
    assert tokens == events[-1][1]["result"]
    assert ("task", {"status": "completed"}) in events


def test_logs_of_one_service_are_json_lines(stack: dict[str, str]) -> None:
    result = inv("logs", "--service", "gateway", "--tail", "5", "--stage", "ci",
                 env={"STACKYARD__COMPOSE__PROJECT_NAME": stack["project"]})
    assert result.returncode == 0, result.stderr
    lines = [line.split("|", 1)[1].strip() for line in result.stdout.splitlines() if "|" in line]
    assert lines and all(json.loads(line)["service"] == "gateway" for line in lines)


# --- hostile input at the edge: every answer nginx makes itself is JSON, 4xx, version-free -----

HOSTILE = {
    "percent-encoded NUL and invalid UTF-8": b"GET /v1/tasks/%00%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    "invalid percent escape": b"GET /v1/sessions/%ZZ/messages HTTP/1.1\r\nHost: x\r\n\r\n",
    "raw NUL in the path": b"GET /v1/tasks/\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "10 KiB URI": b"GET /v1/tasks/" + b"a" * 10240 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "64 KiB header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n",
    "not HTTP at all": b"\x16\x03\x01\x02\x00 hello\r\n\r\n",
    "TRACE": b"TRACE /v1/tasks HTTP/1.1\r\nHost: x\r\n\r\n",
    "body over the edge limit": (b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 5000000\r\n\r\n"),
    "non-numeric Content-Length": b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "HTTP/1.0 without Host": b"GET /v1/tasks/not-a-uuid HTTP/1.0\r\n\r\n",
    "request id that would break JSON": b'GET /v1/tasks/%00 HTTP/1.1\r\nHost: x\r\nX-Request-ID: a"}\r\n\r\n',
    "100 headers": (b"GET /v1/tasks/not-a-uuid HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-Header-%d: value\r\n" % n for n in range(100)) + b"\r\n"),
    "an HTTP version nginx does not speak": b"GET /healthz HTTP/3.7\r\nHost: x\r\n\r\n",
    "path climbing above the root": b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    "two Content-Length headers": (b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                   b"Content-Length: 3\r\n\r\n{}"),
    "Content-Length beside chunked": (b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "a method no route has": b"BREW /v1/tasks HTTP/1.1\r\nHost: x\r\n\r\n",
    "a space in the path": b"GET /v1/ta sks HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute URI naming another host": b"GET http://elsewhere.example/v1/tasks/x HTTP/1.1\r\nHost: x\r\n\r\n",
}


def _raw(url: str, data: bytes, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """One request on a raw socket (httpx would refuse to send most of these); the parsed answer."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            head, sep, body = received.partition(b"\r\n\r\n")
            length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if sep and length and len(body) >= int(length[0].split(b":")[1]):
                break
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_requests_get_json_4xx_from_the_edge_without_a_version(stack: dict[str, str], case: str) -> None:
    status, headers, body = _raw(stack["url"].replace("localhost", "127.0.0.1"), HOSTILE[case])
    assert 400 <= status < 500, (status, body[:200])
    answer = json.loads(body)
    assert answer["error"], answer
    assert headers.get("content-type", "").startswith("application/json")
    assert headers.get("server") == "nginx", headers  # server_tokens off: no version anywhere
    assert not any(char.isdigit() for char in headers["server"]) and b"nginx/" not in body
    assert headers.get("x-content-type-options") == "nosniff"
    if "request_id" in answer:
        assert '"' not in answer["request_id"] and len(answer["request_id"]) <= 128
    if case == "TRACE":
        assert status == 405 and "GET" in headers["allow"] and "POST" in headers["allow"]
    if case == "64 KiB header":
        assert status == 431


def test_every_answer_carries_the_api_security_headers(stack: dict[str, str]) -> None:
    with httpx.Client(base_url=stack["url"], timeout=10) as client:
        for response in (client.get("/healthz"), client.get(f"/v1/tasks/{uuid.uuid4()}")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["server"] == "nginx"


def test_a_slow_loris_body_is_cut_off_at_the_edge_without_a_server_error(stack: dict[str, str]) -> None:
    """nginx closes a connection whose body stalls for client_body_timeout (10 s); it answers
    nothing then (408 is only logged), and the gateway never sees the request."""
    import socket

    host, port = stack["url"].removeprefix("http://").replace("localhost", "127.0.0.1").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        answer = sock.recv(65536)
    assert time.monotonic() - started < 20
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_status_json_names_every_field_and_logs_of_several_services_are_prefixed(stack: dict[str, str]) -> None:
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": stack["project"]}
    result = inv("status", "--stage", "ci", "--json", env=env)
    assert result.returncode == 0, result.stderr
    rows = {row["service"]: row for row in json.loads(result.stdout)}
    services = ("postgres", "redis", "model", "memory", "orchestrator", "worker", "gateway", "edge")
    assert set(rows) == set(services)
    fields = {"service", "state", "health", "running", "wanted", "replicas", "image", "tag", "started_at",
              "uptime_seconds", "uptime", "restarts", "urls", "ports", "last_error", "last_error_at", "containers"}
    for name in services:
        row = rows[name]
        assert set(row) == fields, name
        assert (row["state"], row["health"]) == ("running", "healthy"), row
        assert row["running"] == row["wanted"] >= 1 and row["replicas"] == f"{row['running']}/{row['wanted']}"
        assert row["image"].endswith(":" + row["tag"]) and row["tag"], row
        assert isinstance(row["uptime_seconds"], int) and 0 <= row["uptime_seconds"] < 3600 and row["uptime"] != "-"
        assert isinstance(row["restarts"], int) and row["restarts"] == 0
        assert row["last_error"] is None or (isinstance(row["last_error"], str) and row["last_error_at"])
        assert len(row["containers"]) == row["wanted"] and all(stack["project"] in c for c in row["containers"])
        assert row["urls"] == ([stack["url"]] if name == "edge" else []), row
    table = inv("status", "--stage", "ci", env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.split()[:8] == ["SERVICE", "STATE", "HEALTH", "REPLICAS", "TAG", "UPTIME", "RESTARTS", "URLS"]
    assert stack["url"] in table.stdout

    logs = inv("logs", "-s", "gateway", "-s", "worker", "--tail", "5", "--no-color", "--stage", "ci", env=env)
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    labels = {line.split(" | ", 1)[0].strip() for line in lines}
    assert labels == {"gateway", "worker"}, lines
    assert all(" | " in line and "\x1b" not in line for line in lines)
    unknown = inv("logs", "-s", "gateway", "-s", "gatewya", "--stage", "ci", env=env)
    assert unknown.returncode == 1 and "'gatewya'" in unknown.stderr and "orchestrator" in unknown.stderr

    # `inv logs | head -1`: the reader goes away; the task ends without a BrokenPipeError traceback.
    with subprocess.Popen([INV, "logs", "--stage", "ci"], cwd=ROOT, env={**os.environ, **env},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as piped:
        assert piped.stdout is not None and piped.stderr is not None
        assert piped.stdout.readline()
        piped.stdout.close()
        piped.wait(timeout=60)
        assert b"Traceback" not in piped.stderr.read()
