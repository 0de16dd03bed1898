"""The stack under docker compose: up, down, status, logs.

Each task imports its logic when it runs, so `inv --list` and `--help` stay quick
(tests/unit/test_task_imports.py).
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.tasks import task

from tooling.errors import StackyardError
from tooling.tasks.common import ROOT, friendly, load_config, load_secrets, parse_scale

if TYPE_CHECKING:
    from tooling.compose import ServiceState
    from tooling.config import StackConfig


def _overrides(port: int | None) -> dict[str, object]:
    return {"gateway.port": port} if port else {}


@task(
    help={
        "stage": "config stage from envs/ (dev, ci, ...)",
        "port": "host port for the gateway (default: gateway.port in envs/)",
        "scale": "SERVICE=N, repeatable (e.g. --scale worker=3)",
        "rebuild": "rebuild the service images even if present",
        "json": "print a JSON summary on stdout (progress stays on stderr)",
        "monitoring": "also start Prometheus, Alertmanager, the alert receiver (and Grafana if its image is here)",
        "watch": "then stay in the foreground: a saved file reaches the services that use it (dev, ci stages)",
    },
    iterable=["scale"],
)
@friendly
def up(c: Context, stage: str = "dev", port: int = 0, scale: list[str] | None = None,
       rebuild: bool = False, json: bool = False, monitoring: bool = False, watch: bool = False) -> None:
    """Start the whole stack under docker compose, healthy, and print its URLs.

    --watch runs the services from this checkout's source and reloads what each save affects
    (docs/development.md); Ctrl-C stops watching and leaves the stack running.
    Example: `inv up`, `inv up --watch`, `inv up --port 8081 --scale worker=3 --monitoring`, `inv up --json`."""
    from tooling import compose, images
    from tooling import monitoring as monitoring_module
    from tooling.cli import docker as docker_cli
    from tooling.config import DEV_STAGES
    from tooling.doctor import run as doctor_run

    started = time.monotonic()
    cfg = load_config(stage, _overrides(port))
    if watch and cfg.stage not in DEV_STAGES:
        raise StackyardError(f"--watch runs the services from the source in this checkout: dev and ci only, "
                             f"not {cfg.stage}", "kind, staging and production run the images (`inv cluster`)")
    secrets = load_secrets(cfg)
    # Before anything slow: the engine, compose v2 and the host ports to publish (tooling/doctor/run.py).
    doctor_run.up_preflight(cfg)
    profiles: list[str] = []
    if monitoring:
        grafana_ref = cfg.images.upstream.grafana
        profiles, grafana_note = monitoring_module.profiles(cfg, docker_cli.image_exists(grafana_ref))
        doctor_run.up_preflight(cfg, monitoring=True, grafana=monitoring_module.GRAFANA_PROFILE in profiles)
        print(f"  {grafana_note}", file=sys.stderr)
    wanted = images.CORE_INFRA + (monitoring_module.INFRA if monitoring else ())
    plan = images.ensure_images(cfg, ROOT, rebuild=rebuild, infra=wanted, live_source=watch)
    states = compose.up(ROOT, cfg, secrets, plan, scale=parse_scale(scale or []), profiles=profiles,
                        live_source=watch)
    url = f"http://localhost:{cfg.gateway.port}"
    monitoring_urls = monitoring_module.urls(cfg, "grafana" in profiles) if monitoring else {}
    if json:
        print(_json({"stage": stage, "tag": plan.tag, "gateway_url": url,
                     "seconds": round(time.monotonic() - started, 1), "monitoring": monitoring_urls,
                     "services": [s.__dict__ for s in states]}), flush=True)
    else:
        _print_up(cfg, plan.tag, states, url, monitoring_urls, time.monotonic() - started)
    if watch:
        from tooling.watch import loop

        loop.run(loop.Session(ROOT, cfg, secrets, plan, scale=parse_scale(scale or []), infra=wanted,
                              profiles=profiles, overrides=_overrides(port)), as_json=json)


def _print_up(cfg: StackConfig, tag: str, states: list[ServiceState], url: str, monitoring_urls: dict[str, str],
              seconds: float) -> None:
    from tooling import compose

    auth = "" if not cfg.gateway.require_api_key else " -H 'Authorization: Bearer <key>'"
    print(compose.table(states), file=sys.stderr)
    print(f"""
✓ stackyard is up ({cfg.stage}, images :{tag}) in {seconds:.1f}s
  gateway   {url}
  API docs  {url}/docs
  metrics   {url}/metrics

  try it:
    curl -s -X POST {url}/v1/tasks -H 'content-type: application/json'{auth} \\
         -d '{{"agent": "chat", "input": "hello stackyard"}}'
    curl -s {url}/v1/tasks/<id from the answer>{auth}

  `inv status` shows the services, `inv logs -s SERVICE` its logs, `inv down` stops it all.""")
    for name, link in monitoring_urls.items():
        print(f"  {name:<13} {link}")


def _json(data: object) -> str:
    return json.dumps(data, indent=2, default=str)


@task(help={"stage": "config stage", "volumes": "also delete the data volumes (Postgres, Redis)"})
@friendly
def down(c: Context, stage: str = "dev", volumes: bool = False) -> None:
    """Stop the stack and remove its containers and network (--volumes: its data too).

    Example: `inv down`, `inv down --volumes` (also deletes Postgres' and Redis' data)."""
    from tooling import compose
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine_and_compose()
    compose.down(ROOT, cfg, volumes)


@task(help={"stage": "config stage", "json": "print JSON on stdout (with --watch: one line per refresh)",
            "watch": "redraw every --interval seconds until Ctrl-C", "interval": "seconds between redraws (default 2)"})
@friendly
def status(c: Context, stage: str = "dev", json: bool = False, watch: bool = False, interval: float = 2.0) -> None:
    """Show each service: state, health, replicas, image tag, uptime, restarts, URLs, last error line.

    Exits 1 when the stack is not running. --watch redraws in place on a terminal (a new table
    each time when piped); Ctrl-C ends it.
    Example: `inv status`, `inv status --json`, `inv status --watch --interval 5`."""
    import shutil

    from tooling import stack_status
    from tooling.cli import docker as docker_cli

    if interval <= 0:
        raise StackyardError(f"--interval {interval:g} is not a positive number of seconds", "e.g. --interval 2")
    cfg = load_config(stage)
    docker_cli.check_engine_and_compose()
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty else None
    rows = stack_status.collect(ROOT, cfg)
    if not stack_status.is_running(rows):
        raise stack_status.not_running(cfg)
    if not watch:
        print(stack_status.as_json(rows) if json else stack_status.table(rows, width=width))
        return
    try:
        stack_status.watch(ROOT, cfg, interval=interval, json_lines=json, tty=tty, width=width, first=rows)
    except KeyboardInterrupt:
        print(file=sys.stderr)  # past the terminal's ^C; then a quiet exit 0


# `--service/-s`, not a positional argument: invoke's positional arguments are always required,
# and `inv logs` alone (every service) must work.
@task(help={"service": "a service; repeat for several: -s gateway -s worker (default: all)",
            "follow": "keep streaming new lines", "tail": "only the last N lines per container",
            "stage": "config stage", "no_color": "never colour the service names (NO_COLOR=1 does the same)",
            "raw": "JSON lines as the services wrote them (the default when piped)",
            "compact": "JSON lines as time, level, message, fields (the default on a terminal)"},
      iterable=["service"])
@friendly
def logs(c: Context, service: list[str] | None = None, follow: bool = False, tail: str = "", stage: str = "dev",
         no_color: bool = False, raw: bool = False, compact: bool = False) -> None:
    """Print the stack's logs, or some services' (--follow to stream), each line led by its service.

    Example: `inv logs -s worker --follow`, `inv logs -s gateway -s worker --tail 20`, `inv logs --no-color`."""
    import os

    from tooling import compose, log_view
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine_and_compose()
    tty = sys.stdout.isatty()
    colour = log_view.use_colour(isatty=tty, no_color_env=os.environ.get("NO_COLOR"), no_color_flag=no_color)
    try:
        compose.logs(ROOT, cfg, service or [], follow, tail or None, colour=colour,
                     raw=raw or not (tty or compact))
    except KeyboardInterrupt:
        print(file=sys.stderr)  # --follow ends with Ctrl-C: a quiet exit 0
