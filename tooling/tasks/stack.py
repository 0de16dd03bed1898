"""The stack under docker compose: up, down, status, logs."""

import json
import sys
import time

from invoke import Context, task

from tooling import compose, images
from tooling.cli import docker as docker_cli
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
    },
    iterable=["scale"],
)
@friendly
def up(c: Context, stage: str = "dev", port: int = 0, scale: list[str] | None = None,
       rebuild: bool = False, json: bool = False) -> None:
    """Start the whole stack under docker compose, healthy, and print its URLs."""
    started = time.monotonic()
    cfg = load_config(stage, _overrides(port))
    secrets = load_secrets(cfg)
    docker_cli.check_engine()
    docker_cli.check_compose()
    plan = images.ensure_images(cfg, ROOT, rebuild=rebuild)
    states = compose.up(ROOT, cfg, secrets, plan, scale=parse_scale(scale or []))
    url = f"http://localhost:{cfg.gateway.port}"
    if json:
        print(_json({"stage": stage, "tag": plan.tag, "gateway_url": url,
                     "seconds": round(time.monotonic() - started, 1),
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

  `inv status` shows the services, `inv logs SERVICE` their logs, `inv down` stops it all.""")


def _json(data: object) -> str:
    return json.dumps(data, indent=2, default=str)


@task(help={"stage": "config stage", "volumes": "also delete the data volumes (Postgres, Redis)"})
@friendly
def down(c: Context, stage: str = "dev", volumes: bool = False) -> None:
    """Stop the stack and remove its containers and network (--volumes: its data too)."""
    cfg = load_config(stage)
    docker_cli.check_engine()
    docker_cli.check_compose()
    compose.down(ROOT, cfg, volumes)


@task(help={"stage": "config stage", "json": "print JSON on stdout"})
@friendly
def status(c: Context, stage: str = "dev", json: bool = False) -> None:
    """Show each service: state, health and published ports."""
    cfg = load_config(stage)
    docker_cli.check_engine()
    docker_cli.check_compose()
    rows = compose.status(ROOT, cfg)
    print(compose.as_json(rows) if json else compose.table(rows))


@task(help={"service": "one service (default: all)", "follow": "keep streaming new lines",
            "tail": "only the last N lines per container", "stage": "config stage"})
@friendly
def logs(c: Context, service: str = "", follow: bool = False, tail: str = "", stage: str = "dev") -> None:
    """Print the stack's logs, or one service's (--follow to stream)."""
    cfg = load_config(stage)
    docker_cli.check_engine()
    docker_cli.check_compose()
    if service and service not in compose.SERVICES:
        raise StackyardError(f"no service named {service!r}", f"choose one of: {', '.join(compose.SERVICES)}")
    compose.logs(ROOT, cfg, service or None, follow, tail or None)
