"""`inv status` (tooling/stack_status.py) on recorded `docker inspect` and `docker logs --timestamps`
output: one row per service, the last error line, the table, the JSON, the redraw; and the task's
exit when the stack is not running, at the one CLI seam."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from tooling import stack_status
from tooling.cli import run as seam
from tooling.errors import CommandError
from tooling.tasks import stack

# `docker inspect` of a compose stack's edge container (Docker 27, trimmed to the fields read).
EDGE: dict[str, Any] = {
    "Id": "c619a9926933", "Name": "/watchdev-edge-1", "RestartCount": 0,
    "State": {"Status": "running", "StartedAt": "2026-12-08T01:30:27.742193859Z",
              "FinishedAt": "0001-01-01T00:00:00Z", "Health": {"Status": "healthy"}},
    "Config": {"Image": "stackyard/edge:deb-881ac68cf9",
               "Labels": {"com.docker.compose.project": "watchdev", "com.docker.compose.service": "edge"}},
    "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8090"},
                                               {"HostIp": "::", "HostPort": "8090"}]}},
}
NOW = datetime(2026, 12, 8, 2, 35, 30, tzinfo=UTC)


def container(service: str, index: int, *, status: str = "running", health: str = "healthy",
              started: str = "2026-12-08T01:30:27.742193859Z", restarts: int = 0,
              image: str = "stackyard/worker:65a9567-dirty-a84ec55259") -> dict[str, Any]:
    found = copy.deepcopy(EDGE)
    found.update(Name=f"/watchdev-{service}-{index}", RestartCount=restarts)
    found["State"].update(Status=status, StartedAt=started, Health={"Status": health})
    found["Config"].update(Image=image)
    found["Config"]["Labels"]["com.docker.compose.service"] = service
    found["NetworkSettings"]["Ports"] = {"8000/tcp": None}
    return found


def test_docker_times_with_nanoseconds_and_the_never_started_zero() -> None:
    assert stack_status.parse_time("2026-12-08T01:30:24.824078691Z") == \
        datetime(2026, 12, 8, 1, 30, 24, 824078, tzinfo=UTC)
    assert stack_status.parse_time("2026-12-08T03:30:24+02:00") == datetime(2026, 12, 8, 1, 30, 24, tzinfo=UTC)
    assert stack_status.parse_time("0001-01-01T00:00:00Z") is None
    assert stack_status.parse_time("yesterday") is None


@pytest.mark.parametrize(("seconds", "text"), [(None, "-"), (-3, "0s"), (45, "45s"), (192, "3m 12s"),
                                               (7500, "2h 05m"), (3 * 86400 + 4 * 3600 + 59, "3d 4h")])
def test_uptime_in_words(seconds: float | None, text: str) -> None:
    assert stack_status.humanise(seconds) == text


def test_image_tags() -> None:
    assert stack_status.image_tag("stackyard/edge:deb-881ac68cf9") == "deb-881ac68cf9"
    assert stack_status.image_tag("registry:5000/redis") == "latest"
    assert stack_status.image_tag("registry:5000/redis:7.2") == "7.2"
    assert stack_status.image_tag("postgres@sha256:0123456789abcdef0123") == "0123456789ab"


def test_published_ports_as_urls() -> None:
    assert stack_status.urls(EDGE) == ["http://localhost:8090"], "0.0.0.0 and :: are the same URL"
    db = {"NetworkSettings": {"Ports": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5433"}],
                                        "53/udp": [{"HostIp": "", "HostPort": "53"}],
                                        "9090/tcp": [{"HostIp": "fd00::1", "HostPort": "9091"}], "8000/tcp": None}}}
    assert stack_status.urls(db) == ["http://[fd00::1]:9091", "postgres://127.0.0.1:5433"]


def test_the_last_error_line_is_picked_in_time_order_from_stdout_and_stderr() -> None:
    info = json.dumps({"ts": "x", "level": "info", "service": "worker", "msg": "task done"})
    warn = json.dumps({"ts": "2026-12-08T01:31:00.000Z", "level": "warning", "service": "worker",
                       "msg": "redis slow", "seconds": 2})
    failed = json.dumps({"level": "error", "msg": "task failed", "error": "Traceback …\nValueError: boom"})
    lines = [f"2026-12-08T01:31:00.000000001Z {warn}",
             f"2026-12-08T01:32:00.000000001Z {info}",
             # stderr, read after stdout, but logged before the warning: not the last error
             "2026-12-08T01:30:00.000000001Z Traceback (most recent call last):",
             "2026-12-08T01:30:00.000000002Z ModuleNotFoundError: No module named 'x'"]
    when, text = stack_status.last_error(lines) or (None, "")
    assert when == datetime(2026, 12, 8, 1, 31, 0, tzinfo=UTC)
    assert text == "01:31:00.000 warning redis slow  seconds=2"
    assert stack_status.last_error([*lines, f"2026-12-08T01:33:00Z {failed}"]) == \
        (datetime(2026, 12, 8, 1, 33, tzinfo=UTC), "error   task failed  (ValueError: boom)")
    assert stack_status.last_error([f"2026-12-08T01:32:00Z {info}", "2026-12-08T01:32:01Z plain text"]) is None


@pytest.mark.parametrize("line", ["2026/12/08 01:30:27 [error] 29#29: *1 connect() failed",
                                  "2026-12-08 01:30:19.254 UTC [1] FATAL:  password authentication failed",
                                  "1:M 08 Dec 2026 01:30:19.248 # WARNING Memory overcommit must be enabled!",
                                  "ERROR:    Exception in ASGI application", "KeyError: 'x'",
                                  '{"level": "info", "msg": "retrying after ConnectionError"}'])
def test_error_lines_of_every_kind_of_service(line: str) -> None:
    assert stack_status.is_error(line)


@pytest.mark.parametrize("line", ['{"level": "info", "msg": "task done", "error": null}',
                                  '10.0.0.1 - - "GET /healthz HTTP/1.1" 200', "LOG:  checkpoint complete"])
def test_ordinary_lines_are_not_errors(line: str) -> None:
    assert not stack_status.is_error(line)


def rows() -> list[stack_status.ServiceStatus]:
    inspected = [EDGE,
                 container("worker", 1, started="2026-12-08T02:30:00Z", restarts=1),
                 container("worker", 2, status="exited", health="unhealthy", restarts=2),
                 container("worker", 3, started="2026-12-08T02:35:00.5Z")]
    tails = {"watchdev-worker-2": ["2026-12-08T02:34:00Z Traceback (most recent call last):",
                                   "2026-12-08T02:34:00.1Z RuntimeError: lost redis"],
             "watchdev-worker-1": ['2026-12-08T02:20:00Z {"level": "warning", "msg": "slow"}'],
             "watchdev-edge-1": ["2026-12-08T02:20:00Z 10.0.0.1 GET / 200"]}
    return stack_status.summarise(inspected, tails, NOW, expected=("postgres", "worker", "edge"))


def test_one_row_per_service_with_replicas_restarts_uptime_and_last_error() -> None:
    postgres, worker, edge = rows()
    assert (postgres.service, postgres.state, postgres.replicas) == ("postgres", "missing", "0/1")
    assert worker.state == "running 2, exited 1" and worker.health == "healthy 2, unhealthy 1"
    assert (worker.running, worker.wanted, worker.replicas, worker.restarts) == (2, 3, "2/3", 3)
    assert worker.uptime_seconds == 29 and worker.started_at == "2026-12-08T02:35:00.500000Z", \
        "uptime is the most recent start among running containers"
    assert worker.last_error == "[2] RuntimeError: lost redis" and worker.last_error_at == "2026-12-08T02:34:00.100000Z"
    assert worker.tag == "65a9567-dirty-a84ec55259"
    assert worker.containers == ["watchdev-worker-1", "watchdev-worker-2", "watchdev-worker-3"]
    assert (edge.state, edge.health, edge.tag, edge.urls) == ("running", "healthy", "deb-881ac68cf9",
                                                              ["http://localhost:8090"])
    assert edge.ports == ["0.0.0.0:8090->8080/tcp", ":::8090->8080/tcp"] and edge.last_error is None
    assert edge.uptime_seconds == 3902
    assert stack_status.is_running(rows())


def test_no_containers_is_a_stack_not_running() -> None:
    assert stack_status.summarise([], {}, NOW) == []
    assert not stack_status.is_running(stack_status.summarise([container("worker", 1, status="exited")], {}, NOW))


def test_json_keys_are_stable() -> None:
    (worker,) = [row for row in stack_status.as_dicts(rows()) if row["service"] == "worker"]
    assert list(worker) == ["service", "state", "health", "running", "wanted", "image", "tag", "started_at",
                            "uptime_seconds", "restarts", "urls", "ports", "last_error", "last_error_at",
                            "containers", "replicas", "uptime"]
    assert worker["uptime"] == "29s" and worker["replicas"] == "2/3"
    assert json.loads(stack_status.as_json(rows()))[2]["urls"] == ["http://localhost:8090"]


def test_table_lists_services_then_their_last_errors_clipped_to_the_terminal() -> None:
    text = stack_status.table(rows(), NOW)
    header, postgres, worker, edge = text.splitlines()[:4]
    assert header.split() == ["SERVICE", "STATE", "HEALTH", "REPLICAS", "TAG", "UPTIME", "RESTARTS", "URLS"]
    assert worker.split()[:2] == ["worker", "running"] and "2/3" in worker and "29s" in worker
    assert edge.endswith("http://localhost:8090") and "1h 05m" in edge
    assert "worker    1m 29s ago  [2] RuntimeError: lost redis" in text
    narrow = stack_status.table(rows(), NOW, width=40)
    assert all(len(line) <= 40 for line in narrow.splitlines()) and "…" in narrow
    quiet = stack_status.table(rows()[2:], NOW)
    assert quiet.endswith("no error or warning in any service's last 200 log lines")


def test_redraw_in_place() -> None:
    first = stack_status.redraw("a\nbb", first=True)
    assert first == "\x1b[2J\x1b[Ha\x1b[K\nbb\x1b[K\n\x1b[J"
    assert stack_status.redraw("a", first=False) == "\x1b[Ha\x1b[K\n\x1b[J"


class EngineOnly:
    """Stands in for tooling.cli.run.run: the engine and compose answer; nothing else is asked."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **_: object) -> str:
        self.calls.append([str(a) for a in argv])
        if argv[1:2] in (["version"], ["compose"]):
            return "27.5.1\n"
        raise CommandError(argv, 1, "unexpected in this test")


def test_status_of_a_stack_never_started_exits_1_naming_inv_up(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    fake = EngineOnly()
    monkeypatch.setattr(seam, "run", fake)
    monkeypatch.setenv("STACKYARD__COMPOSE__PROJECT_NAME", "stackyard-unit-never-started")
    for flags in ({}, {"json": True}, {"watch": True}):
        with pytest.raises(Exit) as caught:
            stack.status(Context(), stage="ci", **flags)
        assert caught.value.code == 1
        err = capsys.readouterr().err
        assert "stackyard-unit-never-started (ci) is not running" in err and "`inv up --stage ci`" in err
    assert [call[1] for call in fake.calls] == ["version", "compose"] * 3


def test_interval_must_be_positive() -> None:
    with pytest.raises(Exit):
        stack.status(Context(), interval=0)


def test_ages_are_measured_from_now() -> None:
    later = stack_status.table(rows(), NOW + timedelta(hours=2))
    assert "2h 01m ago  [2] RuntimeError: lost redis" in later
