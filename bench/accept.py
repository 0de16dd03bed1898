"""The gateway's accept path against a bare Starlette app from the same image, on the same network.

    .venv/bin/python bench/accept.py [--seconds 15] [--connections 32]

Starts its own stack (`inv up --stage dev --json`, compose project `stackyard-bench-accept`) and
a bare app: a container of the gateway image running a Starlette app with one GET and one POST
route that parse and answer JSON like the gateway's, under uvicorn as the gateway runs. wrk
(Debian's `wrk`) loads each from this host straight to the container's address (no edge), one
after another, with the same connections, duration and body. Printed per target: req/s, p50 and
p99 latency, and CPU seconds per 1,000 requests of the target's container (its cgroup's CPU
counter before and after, read inside the container); then the gateway's figures as ratios to the
bare app's. Issue 13's targets: accept CPU per 1,000 at most half of its first measurement,
accept req/s as a share of the bare POST's doubled.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "stackyard-bench-accept"
BARE = f"{PROJECT}-bare"
BODY = '{"agent": "chat", "input": "hello from wrk"}'
BARE_APP = """
import json
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
import uvicorn

async def health(request):
    return JSONResponse({"status": "ok"})

async def accept(request):
    body = json.loads(await request.body())
    return JSONResponse({"id": "00000000-0000-0000-0000-000000000000", "status": "queued",
                         "session_id": body.get("session_id") or "s"}, status_code=202)

app = Starlette(routes=[Route("/healthz", health), Route("/v1/tasks", accept, methods=["POST"])])
uvicorn.run(app, host="0.0.0.0", port=8000, log_level="warning", access_log=False)
"""
CPU = "cat /sys/fs/cgroup/cpu.stat 2>/dev/null || cat /sys/fs/cgroup/cpuacct/cpuacct.usage"


def run(*argv: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    done = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def cpu_seconds(container: str) -> float:
    """The container's cgroup CPU time: cgroup v2 cpu.stat usage_usec, or v1 cpuacct.usage (ns)."""
    text = run("docker", "exec", container, "sh", "-c", CPU)
    match = re.search(r"usage_usec (\d+)", text)
    return int(match.group(1)) / 1e6 if match else int(text.split()[0]) / 1e9


def address(container: str) -> str:
    networks = json.loads(run("docker", "inspect", container, "--format", "{{json .NetworkSettings.Networks}}"))
    return f"http://{next(iter(networks.values()))['IPAddress']}:8000"


def wrk(url: str, seconds: int, connections: int, post: bool, script_dir: Path) -> dict[str, float]:
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if post:
        script = script_dir / "post.lua"
        script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n'
                          'wrk.headers["Content-Type"] = "application/json"\n')
        argv += ["-s", str(script)]
    out = run(*argv, url)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rate, "p50": _ms(out, "50%"), "p99": _ms(out, "99%"),
            "non_2xx": int(errors.group(1)) if errors else 0, "requests": requests}


def _ms(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(container: str, url: str, seconds: int, connections: int, post: bool, scratch: Path) -> dict[str, float]:
    before = cpu_seconds(container)
    figures = wrk(url, seconds, connections, post, scratch)
    figures["cpu_per_1000"] = (cpu_seconds(container) - before) / figures["requests"] * 1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: `sudo apt-get install wrk`")
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": PROJECT}
    port = "8096"
    up = json.loads(run(sys.executable, "-m", "invoke", "up", "--stage", "dev", "--port", port, "--json", env=env))
    gateway = f"{PROJECT}-gateway-1"
    image = json.loads(run("docker", "inspect", gateway, "--format", "{{json .Config.Image}}"))
    network = next(iter(json.loads(run("docker", "inspect", gateway, "--format",
                                       "{{json .NetworkSettings.Networks}}"))))
    rows: dict[str, dict[str, float]] = {}
    try:
        run("docker", "run", "-d", "--rm", "--name", BARE, "--network", network, "--read-only", "--user", "10001",
            image, "python", "-c", BARE_APP)
        time.sleep(3)
        with tempfile.TemporaryDirectory() as scratch:
            targets = (("bare GET /healthz", BARE, False), ("gateway GET /healthz", gateway, False),
                       ("bare POST /v1/tasks", BARE, True), ("gateway POST /v1/tasks", gateway, True))
            for name, container, post in targets:
                path = "/v1/tasks" if post else "/healthz"
                rows[name] = measure(container, address(container) + path, args.seconds, args.connections, post,
                                     Path(scratch))
                time.sleep(2)  # let the stack drain what the last run queued
    finally:
        run("docker", "rm", "-f", BARE, check=False)
        run(sys.executable, "-m", "invoke", "down", "--volumes", env=env, check=False)
    print(f"accept path, wrk -c {args.connections} for {args.seconds}s each, stack images :{up['tag']} "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU s/1000':>12}{'non-2xx':>9}")
    for name, r in rows.items():
        print(f"{name:<24}{r['rps']:>9.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['cpu_per_1000']:>12.3f}{r['non_2xx']:>9}")
    for verb in ("GET /healthz", "POST /v1/tasks"):
        ours, bare = rows[f"gateway {verb}"], rows[f"bare {verb}"]
        print(f"gateway/bare {verb:<15} req/s ×{ours['rps'] / bare['rps']:.2f}   "
              f"p99 ×{ours['p99'] / bare['p99']:.1f}   CPU per 1000 ×{ours['cpu_per_1000'] / bare['cpu_per_1000']:.1f}")


if __name__ == "__main__":
    main()
