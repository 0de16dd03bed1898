"""Tools for fault tests: a stack under its own project, docker actions on its containers, load."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")


def inv(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def docker(*args: str, timeout: float = 120) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=timeout).stdout


@dataclass
class Stack:
    project: str
    url: str

    def container(self, service: str, index: int = 1) -> str:
        return f"{self.project}-{service}-{index}"

    def inspect(self, container: str) -> dict[str, Any]:
        return json.loads(docker("inspect", container))[0]

    def restart_counts(self) -> dict[str, int]:
        names = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={self.project}",
                       "--format", "{{.Names}}").split()
        return {name: int(self.inspect(name)["RestartCount"]) for name in names}

    def wait_healthy(self, container: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.inspect(container)["State"]
            if state.get("Running") and state.get("Health", {}).get("Status") == "healthy":
                return
            time.sleep(0.3)
        raise AssertionError(f"{container} not healthy after {timeout}s")

    def crash(self, container: str) -> None:
        """SIGKILL the container's main process, as a crash would, so its restart policy applies.

        `docker kill` would count as a manual stop (no restart); killing the process from the
        host needs root, so without it the test restarts the container itself."""
        pid = int(self.inspect(container)["State"]["Pid"])
        try:
            os.kill(pid, signal.SIGKILL)
        except PermissionError:
            docker("kill", "--signal", "KILL", container)
            docker("start", container)

    def metrics(self, container: str) -> str:
        return docker("exec", container, "python", "-c",
                      "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/metrics').read().decode())")

    def redis(self, *args: str) -> str:
        return docker("exec", self.container("redis"), "redis-cli", "--raw", *args)


@dataclass
class Outcome:
    accepted: dict[str, str] = field(default_factory=dict)   # task id → session
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit(client: httpx.Client, outcome: Outcome, text: str, session: str, **headers: str) -> str | None:
    try:
        response = client.post("/v1/tasks", json={"agent": "chat", "input": text, "session_id": session},
                               headers=headers)
    except httpx.HTTPError as error:
        with outcome.lock:
            outcome.failures.append(f"POST {type(error).__name__}: {error}")
        return None
    with outcome.lock:
        if response.status_code != 202:
            outcome.failures.append(f"POST {response.status_code}: {response.text[:200]}")
            return None
        task_id = response.json()["id"]
        outcome.accepted[task_id] = session
        return task_id


def post_many(url: str, sessions: list[str], per_session: int, threads: int = 16) -> Outcome:
    outcome = Outcome()
    jobs = [(f"message {n} of {s}", s) for s in sessions for n in range(per_session)]
    with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda job: submit(client, outcome, *job), jobs))
    return outcome


def statuses(url: str, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        views = list(pool.map(lambda t: client.get(f"/v1/tasks/{t}").json(), task_ids))
    return dict(zip(task_ids, views, strict=True))


def wait_finished(url: str, task_ids: list[str], timeout: float = 180) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    pending = list(task_ids)
    views: dict[str, dict[str, Any]] = {}
    while pending and time.monotonic() < deadline:
        for task_id, view in statuses(url, pending).items():
            if view.get("status") in ("completed", "failed"):
                views[task_id] = view
        pending = [t for t in pending if t not in views]
        if pending:
            time.sleep(1)
    if pending:
        sample = statuses(url, pending[:3])
        raise AssertionError(f"{len(pending)} of {len(task_ids)} tasks unfinished after {timeout}s, e.g. {sample}")
    return views


def session_messages(url: str, session: str) -> list[dict[str, Any]]:
    return list(httpx.get(f"{url}/v1/sessions/{session}/messages", timeout=30).json()["messages"])


def assert_one_turn_per_task(url: str, outcome: Outcome) -> None:
    """Every session holds exactly one user and one assistant message per accepted task."""
    by_session: dict[str, set[str]] = {}
    for task_id, session in outcome.accepted.items():
        by_session.setdefault(session, set()).add(task_id)
    for session, task_ids in by_session.items():
        messages = session_messages(url, session)
        roles_by_task: dict[str, list[str]] = {}
        for message in messages:
            roles_by_task.setdefault(message["task_id"], []).append(message["role"])
        assert set(roles_by_task) == task_ids, f"{session}: tasks {set(roles_by_task) ^ task_ids} differ"
        assert all(roles == ["user", "assistant"] for roles in roles_by_task.values()), \
            f"{session}: {roles_by_task}"


class Background:
    """Run `action` repeatedly in a thread until stopped (constant load during a fault)."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.action()

    def __enter__(self) -> "Background":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)


@contextmanager
def steady_load(url: str, outcome: Outcome, workers: int = 4) -> Iterator[None]:
    """Constant load while the block runs: each thread posts a task in a new session, polls it."""
    clients = [httpx.Client(base_url=url, timeout=30) for _ in range(workers)]

    def make(client: httpx.Client) -> Callable[[], None]:
        def one() -> None:
            task_id = submit(client, outcome, "steady", f"steady-{uuid.uuid4().hex[:12]}")
            if task_id:
                try:
                    view = client.get(f"/v1/tasks/{task_id}")
                    if view.status_code != 200:
                        with outcome.lock:
                            outcome.failures.append(f"GET {view.status_code}: {view.text[:200]}")
                except httpx.HTTPError as error:
                    with outcome.lock:
                        outcome.failures.append(f"GET {type(error).__name__}: {error}")
            time.sleep(0.05)
        return one

    with ExitStack() as stack:
        for client in clients:
            stack.enter_context(client)
            stack.enter_context(Background(make(client)))
        yield
