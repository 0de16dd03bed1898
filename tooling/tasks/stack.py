"""The stack under docker compose: up, down, status, logs.

Each task imports its logic when it runs, so `inv --list` and `--help` stay quick
(tests/unit/test_task_imports.py).
"""

import json
import sys
import time

from invoke.context import Context
from invoke.tasks import task

from tooling.errors import StackyardError
from tooling.tasks.common import ROOT, friendly, load_config, load_secrets, parse_scale


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
    },
    iterable=["scale"],
)
@friendly
def up(c: Context, stage: str = "dev", port: int = 0, scale: list[str] | None = None,
       rebuild: bool = False, json: bool = False, monitoring: bool = False) -> None:
    """Start the whole stack under docker compose, healthy, and print its URLs.

    Example: `inv up`, `inv up --port 8081 --scale worker=3 --monitoring`, `inv up --json`."""
    from tooling import compose, images
    from tooling import monitoring as monitoring_module
    from tooling.cli import docker as docker_cli
    from tooling.doctor import run as doctor_run

    started = time.monotonic()
    cfg = load_config(stage, _overrides(port))
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
    plan = images.ensure_images(cfg, ROOT, rebuild=rebuild, infra=wanted)
    states = compose.up(ROOT, cfg, secrets, plan, scale=parse_scale(scale or []), profiles=profiles)
    url = f"http://localhost:{cfg.gateway.port}"
    monitoring_urls = monitoring_module.urls(cfg, "grafana" in profiles) if monitoring else {}
    if json:
        print(_json({"stage": stage, "tag": plan.tag, "gateway_url": url,
                     "seconds": round(time.monotonic() - started, 1), "monitoring": monitoring_urls,
                     "services": [s.__dict__ for s in states]}))
        return
    auth = "" if not cfg.gateway.require_api_key else " -H 'Authorization: Bearer <key>'"
    print(compose.table(states), file=sys.stderr)
    print(f"""
✓ stackyard is up ({stage}, images :{plan.tag}) in {time.monotonic() - started:.1f}s
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


@task(help={"stage": "config stage", "json": "print JSON on stdout"})
@friendly
def status(c: Context, stage: str = "dev", json: bool = False) -> None:
    """Show each service: state, health and published ports.

    Example: `inv status`, `inv status --json`."""
    from tooling import compose
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine_and_compose()
    rows = compose.status(ROOT, cfg)
    print(compose.as_json(rows) if json else compose.table(rows))


# `--service/-s`, not a positional argument: invoke's positional arguments are always required,
# and `inv logs` alone (every service) must work.
@task(help={"service": "one service (default: all)", "follow": "keep streaming new lines",
            "tail": "only the last N lines per container", "stage": "config stage"})
@friendly
def logs(c: Context, service: str = "", follow: bool = False, tail: str = "", stage: str = "dev") -> None:
    """Print the stack's logs, or one service's (--follow to stream).

    Example: `inv logs -s worker --follow`, `inv logs --tail 50`."""
    from tooling import compose
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine_and_compose()
    if service and service not in compose.SERVICES:
        raise StackyardError(f"no service named {service!r}", f"choose one of: {', '.join(compose.SERVICES)}")
    compose.logs(ROOT, cfg, service or None, follow, tail or None)
