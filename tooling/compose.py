"""The stack under docker compose: start, wait until healthy, report, stop.

Every value the compose file and the services read comes from env files rendered from the
validated config (tooling/compose_env.py), so `envs/*.yaml` is the one place a setting lives.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tooling import compose_env, log_view, monitoring, progress
from tooling.cli import compose as compose_cli
from tooling.config import Secrets, StackConfig
from tooling.errors import StackyardError
from tooling.images import ImagePlan
from tooling.k8s import connection_budget

COMPOSE_FILE = compose_env.COMPOSE_FILE
# Extra compose files layered on the main one (each adds services, e.g. behind a profile).
EXTRA_COMPOSE_FILES: list[str] = ["deploy/monitoring/compose.yml"]
# `inv up --watch`: the services' source bind-mounted over the image's copy (tooling/watch/).
WATCH_COMPOSE_FILE = "docker-compose.watch.yml"
SERVICES = ("postgres", "redis", "model", "memory", "orchestrator", "worker", "gateway", "edge")
# Optional services behind compose profiles; commands other than `up` see every profile.
PROFILE_SERVICES = {monitoring.PROFILE: monitoring.COMPOSE_SERVICES, monitoring.GRAFANA_PROFILE: ("grafana",)}


ServiceState = compose_cli.ContainerState


def project(root: Path, config: StackConfig, env_file: Path | None = None,
            profiles: list[str] | None = None, *, live_source: bool = False) -> compose_cli.Project:
    """`profiles=None` enables every profile (down, status and logs must see those services).

    `live_source`: with docker-compose.watch.yml (`inv up --watch`)."""
    extras = [*EXTRA_COMPOSE_FILES, *([WATCH_COMPOSE_FILE] if live_source else [])]
    return compose_cli.Project(files=(root / COMPOSE_FILE, *(root / extra for extra in extras)),
                               name=config.compose.project_name, env_file=env_file,
                               profiles=tuple(PROFILE_SERVICES) if profiles is None else tuple(profiles))


def states(stack: compose_cli.Project) -> list[ServiceState]:
    return sorted(compose_cli.ps(stack),
                  key=lambda s: (SERVICES.index(s.service) if s.service in SERVICES else 99, s.container))


def _ready(state: ServiceState) -> bool:
    return state.state == "running" and state.health in ("healthy", "none")


def wait_healthy(stack: compose_cli.Project, expected: dict[str, int], timeout: float) -> list[ServiceState]:
    """Poll until every expected container is running and healthy; print each change of state."""
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    started = time.monotonic()
    while True:
        current = states(stack)
        for state in current:
            label = state.health if state.state == "running" else state.state
            if seen.get(state.container) != label:
                progress.say(f"  {time.monotonic() - started:5.1f}s  {state.container:<32} {label}")
                seen[state.container] = label
        failed = [s for s in current if s.state in ("exited", "dead") or s.health == "unhealthy"]
        if failed:
            names = ", ".join(s.service for s in failed)
            raise StackyardError(f"{names} failed to start ({', '.join(s.state + '/' + s.health for s in failed)})",
                                 f"see why with `inv logs -s {failed[0].service}`")
        counts = {name: sum(1 for s in current if s.service == name and _ready(s)) for name in expected}
        if all(counts[name] >= want for name, want in expected.items()):
            return current
        if time.monotonic() > deadline:
            waiting = [n for n, want in expected.items() if counts[n] < want]
            raise StackyardError(f"not healthy after {timeout:.0f}s: {', '.join(waiting)}",
                                 f"see why with `inv logs -s {waiting[0]}`; raise compose.wait_timeout_seconds "
                                 "if the machine is just slow")
        time.sleep(1.0)


def wanted_replicas(config: StackConfig, scale: dict[str, int] | None = None) -> dict[str, int]:
    return {"worker": config.worker.replicas, **(scale or {})}


def up(root: Path, config: StackConfig, secrets: Secrets, plan: ImagePlan, scale: dict[str, int] | None = None,
       profiles: list[str] | None = None, *, live_source: bool = False) -> list[ServiceState]:
    profiles = profiles or []
    replicas = wanted_replicas(config, scale)
    connection_budget.check_scale(config, replicas)  # before anything is written or started
    env_file = compose_env.write(root, config, secrets, plan)
    if monitoring.PROFILE in profiles:
        monitoring.render_compose(root, config)
    stack = project(root, config, env_file, profiles, live_source=live_source)
    with progress.step(f"starting {config.compose.project_name} ({config.stage}, images :{plan.tag})"):
        compose_cli.up(stack, scales=replicas)
    with progress.step("waiting for every service to be healthy"):
        optional = [name for profile in profiles for name in PROFILE_SERVICES.get(profile, ())]
        expected = {name: replicas.get(name, 1) for name in (*SERVICES, *optional)}
        return wait_healthy(stack, expected, config.compose.wait_timeout_seconds)


def down(root: Path, config: StackConfig, volumes: bool) -> None:
    env_file = _existing_env(root, config)
    if env_file is None:
        progress.say(f"  {config.compose.project_name} was never started from this checkout: nothing to stop")
        return
    with progress.step(f"stopping {config.compose.project_name}" + (" and removing its volumes" if volumes else "")):
        compose_cli.down(project(root, config, env_file), volumes=volumes)


def _existing_env(root: Path, config: StackConfig) -> Path | None:
    """Commands other than `up` need the compose file to parse; the last rendered env does that.

    None: `inv up` never ran for this project here, so there is no stack of ours to act on (and
    compose would fail on whichever required variable it happens to check first)."""
    path = compose_env.env_file_path(root, config)
    return path if path.exists() else None


def status(root: Path, config: StackConfig) -> list[ServiceState]:
    env_file = _existing_env(root, config)
    if env_file is None:
        return []
    return states(project(root, config, env_file))


def logs(root: Path, config: StackConfig, services: Sequence[str], follow: bool, tail: str | None, *,
         colour: bool = False, raw: bool = False) -> None:
    """Print the services' logs (every service's when none), each line led by its service
    (tooling/log_view.py); `raw` keeps JSON lines as the services wrote them."""
    known = (*SERVICES, *(name for names in PROFILE_SERVICES.values() for name in names))
    unknown = [name for name in services if name not in known]
    if unknown:
        raise StackyardError(f"no service named {', '.join(map(repr, unknown))}", f"choose from: {', '.join(known)}")
    env_file = _existing_env(root, config)
    if env_file is None:
        raise StackyardError(f"{config.compose.project_name} was never started from this checkout",
                             "start it with `inv up`")
    width = log_view.label_width(services or known)
    for line in compose_cli.logs(project(root, config, env_file), services=services, follow=follow, tail=tail):
        for row in log_view.render(line, width=width, colour=colour, raw=raw, known=known):
            print(row, flush=follow)


def resolved(root: Path, config: StackConfig, env_file: Path) -> dict[str, Any]:
    """The compose model as compose itself resolves it (`docker compose config`): what each
    service's environment really is once env files and interpolation are applied."""
    return compose_cli.config(project(root, config, env_file))


def as_json(rows: list[ServiceState]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2)


def table(rows: list[ServiceState]) -> str:
    if not rows:
        return "no containers: the stack is not running (start it with `inv up`)"
    return progress.columns(("SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS"),
                            [(r.service, r.container, r.state, r.health, ", ".join(r.ports)) for r in rows])
