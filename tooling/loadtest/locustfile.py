# mypy: allow-untyped-decorators, allow-untyped-calls
# (locust's event listeners and LoadTestShape.get_run_time carry no annotations; everything else stays strict)
"""stackyard's load scenarios, for locust (its own process: locust patches it with gevent).

Each simulated user holds a chat session and, by weight: submits a `chat` task and polls it to
the end, submits a `planner` task likewise (only once the gateway knows that agent), or reads its
session's history. The end-to-end time of a task (submit → completed, as this client sees it) is
recorded as a request of type TASK, so it shows in locust's own stats and CSVs too.

Driven by `inv loadtest` through environment variables (all optional, for a stand-alone run:
`locust -f tooling/loadtest/locustfile.py --headless --host http://127.0.0.1:8080`):
  STACKYARD_LOAD_STAGES   the load shape as JSON stages (tooling/loadtest/profiles.py); default smoke
  STACKYARD_LOAD_SAMPLES  a file for raw samples (JSON lines: requests, tasks, generator CPU, notes)
  STACKYARD_LOAD_API_KEY  sent as `Authorization: Bearer …` (stages other than dev/ci)
  STACKYARD_LOAD_MIX      task weights, e.g. `chat:6,planner:2,history:1`
  STACKYARD_LOAD_THINK    think time between tasks in seconds, `min,max` (closed loop)
  STACKYARD_LOAD_PACING   seconds between the starts of a user's runs (open loop; 0 or unset = closed loop)
  STACKYARD_LOAD_POLL_SECONDS, STACKYARD_LOAD_TASK_TIMEOUT  status polling interval, give-up time
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, LoadTestShape, between, constant_pacing, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tooling.loadtest import profiles  # noqa: E402  (plain data, no locust inside)

PLAN = profiles.from_json(os.environ.get("STACKYARD_LOAD_STAGES") or profiles.to_json(
    profiles.stages("smoke", 5, 5, 20)))
API_KEY = os.environ.get("STACKYARD_LOAD_API_KEY", "")
HEADERS = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}
POLL_SECONDS = float(os.environ.get("STACKYARD_LOAD_POLL_SECONDS", "0.1"))
TASK_TIMEOUT = float(os.environ.get("STACKYARD_LOAD_TASK_TIMEOUT", "60"))
MIX = {name: int(weight) for name, _, weight in
       (part.partition(":") for part in os.environ.get("STACKYARD_LOAD_MIX", "chat:6,planner:2,history:1").split(","))}
THINK = tuple(float(x) for x in os.environ.get("STACKYARD_LOAD_THINK", "0.5,1.5").split(","))
PACING = float(os.environ.get("STACKYARD_LOAD_PACING") or 0)
TURNS_PER_SESSION = 10
INPUTS = ("summarise the release notes", "what changed since yesterday", "plan the rollout for friday",
          "draft a reply to the customer", "list the open incidents")


class Samples:
    """Raw samples as JSON lines; exact percentiles and time series are computed from them later."""

    def __init__(self, path: str) -> None:
        self.handle = open(path, "a", buffering=1 << 16) if path else None  # noqa: SIM115

    def write(self, **fields: Any) -> None:
        if self.handle is not None:
            self.handle.write(json.dumps(fields, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


SAMPLES = Samples(os.environ.get("STACKYARD_LOAD_SAMPLES", ""))


@events.request.add_listener
def record(request_type: str, name: str, response_time: float, exception: Any = None, **_: Any) -> None:
    SAMPLES.write(k="task" if request_type == "TASK" else "req", t=round(time.time(), 3), n=name,
                  ms=round(response_time, 2), ok=exception is None,
                  **({"e": str(exception)[:200]} if exception is not None else {}))


def planner_known(host: str) -> tuple[bool, str]:
    """Does the gateway accept agent `planner`? A 422 naming an unknown agent means not yet."""
    body = json.dumps({"agent": "planner", "input": "probe: plan a load test"}).encode()
    request = urllib.request.Request(f"{host.rstrip('/')}/v1/tasks", data=body, method="POST",
                                     headers={"content-type": "application/json", **HEADERS})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 202, f"probe answered {response.status}"
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")[:200]
        return False, f"probe answered {error.code}: {text}"
    except OSError as error:
        return False, f"probe failed: {error}"


def watch_generator(environment: Any) -> None:
    """Every second: this process's CPU share of one core, and the user count."""
    last_cpu, last_wall = time.process_time(), time.monotonic()
    while True:
        gevent.sleep(1.0)
        cpu, wall = time.process_time(), time.monotonic()
        users = environment.runner.user_count if environment.runner is not None else 0
        SAMPLES.write(k="cpu", t=round(time.time(), 3), cpu=round((cpu - last_cpu) / (wall - last_wall), 3),
                      users=users)
        last_cpu, last_wall = cpu, wall


@events.test_start.add_listener
def on_start(environment: Any, **_: Any) -> None:
    enabled = MIX.get("planner", 0) > 0
    reason = "not in the mix"
    if enabled:
        enabled, reason = planner_known(environment.host or "")
    if not enabled:
        StackUser.tasks = [t for t in StackUser.tasks if t is not StackUser.planner]
    SAMPLES.write(k="note", t=round(time.time(), 3), planner=enabled, planner_reason=reason,
                  mix=MIX, poll_seconds=POLL_SECONDS, stages=json.loads(profiles.to_json(PLAN)))
    environment.stackyard_watch = gevent.spawn(watch_generator, environment)


@events.quitting.add_listener
def on_quit(environment: Any, **_: Any) -> None:
    watch = getattr(environment, "stackyard_watch", None)
    if watch is not None:
        watch.kill()
    SAMPLES.write(k="end", t=round(time.time(), 3))
    SAMPLES.close()
    environment.process_exit_code = 0  # the toolkit judges the run from the samples, not locust


class StackUser(FastHttpUser):
    # Open loop: locust 2.47's constant_pacing (locust/user/wait_time.py) waits max(0, PACING − the
    # run's time), so a user starts a run every PACING seconds however slow the stack is — as long as
    # a task completes within PACING; the arrival rate is then users / PACING. Closed loop: think time.
    wait_time = constant_pacing(PACING) if PACING > 0 else between(THINK[0], THINK[-1])

    def on_start(self) -> None:
        self.new_session()

    def new_session(self) -> None:
        self.session_id = f"load-{uuid.uuid4().hex[:12]}"
        self.turns = 0

    def run_task(self, agent: str) -> None:
        if self.turns >= TURNS_PER_SESSION:
            self.new_session()
        self.turns += 1
        started = time.monotonic()
        body = {"agent": agent, "input": INPUTS[self.turns % len(INPUTS)], "session_id": self.session_id}
        with self.client.post("/v1/tasks", json=body, headers=HEADERS, name=f"POST /v1/tasks [{agent}]",
                              catch_response=True) as response:
            if response.status_code != 202:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")
                return
            task_id = response.json()["id"]
        status, error = "queued", ""
        while status in ("queued", "running"):
            if time.monotonic() - started > TASK_TIMEOUT:
                error = f"not done after {TASK_TIMEOUT:.0f}s (still {status})"
                break
            gevent.sleep(POLL_SECONDS)
            with self.client.get(f"/v1/tasks/{task_id}", headers=HEADERS, name="GET /v1/tasks/{id}",
                                 catch_response=True) as view:
                if view.status_code != 200:
                    view.failure(f"{view.status_code}: {(view.text or '')[:200]}")
                    continue
                data = view.json()
                status = data["status"]
                if status == "failed":
                    error = f"task failed: {data.get('error') or 'no reason given'}"
        self.environment.events.request.fire(
            request_type="TASK", name=f"{agent} end to end", response_time=(time.monotonic() - started) * 1000,
            response_length=0, exception=RuntimeError(error) if error else None, context={})

    @task(MIX.get("chat", 0))
    def chat(self) -> None:
        self.run_task("chat")

    @task(max(MIX.get("planner", 0), 1))
    def planner(self) -> None:
        self.run_task("planner")

    @task(MIX.get("history", 0))
    def history(self) -> None:
        self.client.get(f"/v1/sessions/{self.session_id}/messages", headers=HEADERS,
                        name="GET /v1/sessions/{id}/messages")


class ProfileShape(LoadTestShape):
    """Follows the stages `inv loadtest` computed (tooling/loadtest/profiles.py)."""

    def tick(self) -> tuple[int, float] | None:
        return profiles.tick(PLAN, self.get_run_time())
