"""Turn latency of one chat session at turn 10, 100 and 1,000, each as a ratio against turn 10.

Drives the real stack through the gateway: by default it starts one with `inv up` under a compose
project and port of its own (a running stack is left alone) and removes it afterwards; `--url`
points it at a gateway that is already up instead. One session throughout: the turns before each
measured point are seeded through the gateway as ordinary chat tasks, several at a time (timed and
reported, not measured as turns); the turns at each point run one after another, as a chat client
sends them, and their medians are compared with turn 10's from the same run.

    .venv/bin/python bench/session.py                 # own stack, turns 10, 100, 1000
    .venv/bin/python bench/session.py --url http://127.0.0.1:8080 --samples 9 --json

How to read the figures: bench/README.md.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
INV = str(Path(sys.executable).parent / "inv")
ACCEPTANCE = 1.5  # issue 13: turn 1,000 at most 1.5 × turn 10


class BenchError(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class Turn:
    number: int
    wall_ms: float    # POST /v1/tasks until the client sees it completed (polled every 5 ms)
    server_ms: float  # the task's own created_at → completed_at, free of polling


@dataclass(frozen=True)
class Point:
    turn: int
    samples: int
    wall_ms: float      # medians
    server_ms: float
    wall_ratio: float   # against turn 10 (the first point) of this run
    server_ratio: float
    control_ms: float     # median server ms of turn 10 of a fresh session, interleaved with these
    control_ratio: float  # server_ms / control_ms: the growth with the session, load cancelled


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def inv(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


@contextmanager
def own_stack(stage: str, keep: bool) -> Iterator[str]:
    """A stack under a compose project of its own on a free port; its URL; removed afterwards."""
    project = f"stackyard-bench-{uuid.uuid4().hex[:6]}"
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": project}
    print(f"starting the stack: inv up --stage {stage} (compose project {project})", file=sys.stderr)
    up = inv("up", "--stage", stage, "--port", str(free_port()), "--json", env=env, timeout=900)
    try:
        if up.returncode != 0:
            raise BenchError(f"inv up failed:\n{up.stderr.strip()}", "run `.venv/bin/inv doctor`, or pass --url")
        yield str(json.loads(up.stdout)["gateway_url"])
    finally:
        if keep:
            print(f"left running: STACKYARD__COMPOSE__PROJECT_NAME={project} inv down --stage {stage} --volumes",
                  file=sys.stderr)
        else:
            inv("down", "--stage", stage, "--volumes", env=env, timeout=300)


def _timestamp(value: object) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def run_turn(client: httpx.Client, session: str, number: int, timeout: float = 60) -> Turn:
    started = time.perf_counter()
    accepted = client.post("/v1/tasks", json={"agent": "chat", "input": f"turn {number} of the bench",
                                              "session_id": session})
    if accepted.status_code != 202:
        raise BenchError(f"turn {number}: POST /v1/tasks answered {accepted.status_code}: {accepted.text[:200]}",
                         "check the gateway (inv status), or pass --api-key")
    task_id = accepted.json()["id"]
    deadline = started + timeout
    while True:
        view = client.get(f"/v1/tasks/{task_id}").json()
        if view["status"] == "completed":
            break
        if view["status"] == "failed" or time.perf_counter() > deadline:
            raise BenchError(f"turn {number}: task {task_id} {view['status']}: {view.get('error')}",
                             "read the worker's logs (inv logs worker)")
        time.sleep(0.005)
    wall = time.perf_counter() - started
    server = (_timestamp(view["completed_at"]) - _timestamp(view["created_at"])).total_seconds()
    return Turn(number, wall * 1000, server * 1000)


def seed(client: httpx.Client, session: str, first: int, last: int, concurrency: int) -> float:
    """Turns first..last as ordinary chat tasks, `concurrency` at a time; the seconds it took."""
    if last < first:
        return 0.0
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda n: run_turn(client, session, n), range(first, last + 1)))
    return time.perf_counter() - started


def summarise(measured: dict[int, list[Turn]], controls: dict[int, list[Turn]]) -> list[Point]:
    base_turn = min(measured)
    base_wall = statistics.median(t.wall_ms for t in measured[base_turn])
    base_server = statistics.median(t.server_ms for t in measured[base_turn])
    points = []
    for turn, turns in sorted(measured.items()):
        wall = statistics.median(t.wall_ms for t in turns)
        server = statistics.median(t.server_ms for t in turns)
        control = statistics.median(t.server_ms for t in controls[turn])
        points.append(Point(turn, len(turns), round(wall, 1), round(server, 1), round(wall / base_wall, 2),
                            round(server / base_server, 2), round(control, 1), round(server / control, 2)))
    return points


def bench(url: str, points: list[int], samples: int, concurrency: int, api_key: str) -> dict[str, object]:
    session = f"bench-{uuid.uuid4().hex[:10]}"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    measured: dict[int, list[Turn]] = {}
    controls: dict[int, list[Turn]] = {}
    seeding: list[dict[str, float]] = []
    done = 0
    limits = httpx.Limits(max_connections=concurrency + 2)
    with httpx.Client(base_url=url, headers=headers, timeout=30, limits=limits) as client:
        for point in points:
            seconds = seed(client, session, done + 1, point - 1, concurrency)
            if point - 1 > done:
                seeding.append({"turns": point - 1 - done, "seconds": round(seconds, 1),
                                "turns_per_second": round((point - 1 - done) / seconds, 1)})
                print(f"seeded turns {done + 1}..{point - 1} in {seconds:.1f}s", file=sys.stderr)
            # Interleaved with each sample: a turn 10 of a fresh control session, so load that
            # changes during the run (other stacks on the machine) weighs on both alike.
            control = f"{session}-control-{point}"
            seed(client, control, 1, 9, concurrency)
            pairs = [(run_turn(client, session, point + i), run_turn(client, control, 10 + i)) for i in range(samples)]
            measured[point] = [main for main, _ in pairs]
            controls[point] = [ctl for _, ctl in pairs]
            done = point + samples - 1
    return {"session_id": session, "url": url, "samples": samples, "seeding": seeding,
            "points": [asdict(p) for p in summarise(measured, controls)],
            "turns": {str(k): [asdict(t) for t in v] for k, v in measured.items()},
            "controls": {str(k): [asdict(t) for t in v] for k, v in controls.items()}}


def report(result: dict[str, object]) -> str:
    points = result["points"]
    assert isinstance(points, list)
    base = points[0]["turn"]
    lines = [f"session {result['session_id']} via {result['url']}, median of {result['samples']} turns per point",
             f"{'turn':>6} {'wall ms':>9} {'server ms':>10} {'wall ×':>8} {'server ×':>9} "
             f"{'control ms':>11} {'× control':>10}"]
    for p in points:
        lines.append(f"{p['turn']:>6} {p['wall_ms']:>9.1f} {p['server_ms']:>10.1f} "
                     f"{p['wall_ratio']:>8.2f} {p['server_ratio']:>9.2f} {p['control_ms']:>11.1f} "
                     f"{p['control_ratio']:>10.2f}")
    last = points[-1]
    verdict = "met" if max(last["server_ratio"], last["control_ratio"]) <= ACCEPTANCE else "NOT met"
    lines.append(f"× columns: against turn {base} of this run, and against turn {base} of a fresh session run "
                 f"alongside; acceptance (turn {last['turn']} ≤ {ACCEPTANCE} × turn {base}): {verdict}")
    return "\n".join(lines)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running gateway (default: start a stack of its own with inv up)")
    parser.add_argument("--stage", default="dev", help="config stage for the stack it starts (default dev)")
    parser.add_argument("--points", default="10,100,1000", help="turns to measure, ascending (default 10,100,1000)")
    parser.add_argument("--samples", type=int, default=7, help="consecutive turns measured at each point (7)")
    parser.add_argument("--concurrency", type=int, default=8, help="turns in flight while seeding (8)")
    parser.add_argument("--api-key", default=os.environ.get("STACKYARD_BENCH_API_KEY", ""),
                        help="bearer key for a gateway that requires one (or STACKYARD_BENCH_API_KEY)")
    parser.add_argument("--keep", action="store_true", help="leave the stack it started running")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = parser.parse_args(argv)
    args.points = [int(p) for p in args.points.split(",")]
    if args.samples < 1 or any(b - a < args.samples for a, b in zip(args.points, args.points[1:], strict=False)) \
            or args.points != sorted(args.points) or args.points[0] < 1:
        parser.error("--points must ascend, each at least --samples after the one before")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        if args.url:
            result = bench(args.url, args.points, args.samples, args.concurrency, args.api_key)
        else:
            with own_stack(args.stage, args.keep) as url:
                result = bench(url, args.points, args.samples, args.concurrency, args.api_key)
    except BenchError as error:
        print(f"error: {error}\n  → {error.fix}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
