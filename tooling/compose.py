"""The stack under docker compose: start, wait until healthy, report, stop.

Every value the compose file and the services read comes from env files rendered from the
validated config (tooling/compose_env.py), so `envs/*.yaml` is the one place a setting lives.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from tooling import compose_env, monitoring, progress
from tooling.cli import docker as docker_cli
from tooling.config import Secrets, StackConfig
from tooling.errors import StackyardError
from tooling.images import ImagePlan

COMPOSE_FILE = compose_env.COMPOSE_FILE
# Extra compose files layered on the main one (each adds services, e.g. behind a profile).
EXTRA_COMPOSE_FILES: list[str] = ["deploy/monitoring/compose.yml"]
SERVICES = ("postgres", "redis", "model", "memory", "orchestrator", "worker", "gateway", "edge")
# Optional services behind compose profiles; commands other than `up` see every profile.
PROFILE_SERVICES = {monitoring.PROFILE: monitoring.COMPOSE_SERVICES, monitoring.GRAFANA_PROFILE: ("grafana",)}


@dataclass
class ServiceState:
    service: str
    container: str
    state: str
    health: str
    ports: list[str] = field(default_factory=list)


def client(root: Path, config: StackConfig, env_file: Path | None = None,
           profiles: list[str] | None = None) -> DockerClient:
    """`profiles=None` enables every profile (down, status and logs must see those services)."""
    files = [root / COMPOSE_FILE, *(root / extra for extra in EXTRA_COMPOSE_FILES)]
    return docker_cli.client(compose_files=files, env_file=env_file, project=config.compose.project_name,
                             profiles=list(PROFILE_SERVICES) if profiles is None else profiles)


def _service_of(container: Container) -> str:
    return container.config.labels.get("com.docker.compose.service", container.name)


def _ports(container: Container) -> list[str]:
    published = []
    for inner, bindings in (container.network_settings.ports or {}).items():
        for binding in bindings or []:
            published.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{inner}")
    return sorted(set(published))


def states(docker: DockerClient) -> list[ServiceState]:
    result = []
    for container in docker.compose.ps(all=True):
        health = container.state.health.status if container.state.health else "none"
        result.append(ServiceState(_service_of(container), container.name, container.state.status or "?",
                                   health or "none", _ports(container)))
    return sorted(result, key=lambda s: (SERVICES.index(s.service) if s.service in SERVICES else 99, s.container))


def _ready(state: ServiceState) -> bool:
    return state.state == "running" and state.health in ("healthy", "none")


def wait_healthy(docker: DockerClient, expected: dict[str, int], timeout: float) -> list[ServiceState]:
    """Poll until every expected container is running and healthy; print each change of state."""
    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    started = time.monotonic()
    while True:
        current = states(docker)
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


def up(root: Path, config: StackConfig, secrets: Secrets, plan: ImagePlan,
       scale: dict[str, int] | None = None, profiles: list[str] | None = None) -> list[ServiceState]:
    profiles = profiles or []
    env_file = compose_env.write(root, config, secrets, plan)
    if monitoring.PROFILE in profiles:
        monitoring.render_compose(root, config)
    docker = client(root, config, env_file, profiles)
    replicas = {"worker": config.worker.replicas, **(scale or {})}
    with progress.step(f"starting {config.compose.project_name} ({config.stage}, images :{plan.tag})"):
        try:
            docker.compose.up(detach=True, remove_orphans=True, scales=replicas, pull="never", quiet=True)
        except DockerException as error:
            raise docker_cli.explain(error, "docker compose up") from error
    with progress.step("waiting for every service to be healthy"):
        optional = [name for profile in profiles for name in PROFILE_SERVICES.get(profile, ())]
        expected = {name: replicas.get(name, 1) for name in (*SERVICES, *optional)}
        return wait_healthy(docker, expected, config.compose.wait_timeout_seconds)


def down(root: Path, config: StackConfig, volumes: bool) -> None:
    env_file = _existing_env(root, config)
    if env_file is None:
        progress.say(f"  {config.compose.project_name} was never started from this checkout: nothing to stop")
        return
    docker = client(root, config, env_file)
    with progress.step(f"stopping {config.compose.project_name}" + (" and removing its volumes" if volumes else "")):
        try:
            docker.compose.down(remove_orphans=True, volumes=volumes, quiet=True)
        except DockerException as error:
            raise docker_cli.explain(error, "docker compose down") from error


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
    docker = client(root, config, env_file)
    try:
        return states(docker)
    except DockerException as error:
        raise docker_cli.explain(error, "docker compose ps") from error


def logs(root: Path, config: StackConfig, service: str | None, follow: bool, tail: str | None) -> None:
    env_file = _existing_env(root, config)
    if env_file is None:
        raise StackyardError(f"{config.compose.project_name} was never started from this checkout",
                             "start it with `inv up`")
    docker = client(root, config, env_file)
    try:
        for _source, line in docker.compose.logs(services=[service] if service else [], follow=follow,
                                                  tail=tail, stream=True):
            print(line.decode(errors="replace"), end="", flush=True)
    except DockerException as error:
        raise docker_cli.explain(error, "docker compose logs") from error


def resolved(root: Path, config: StackConfig, env_file: Path) -> dict[str, Any]:
    """The compose model as compose itself resolves it (`docker compose config`): what each
    service's environment really is once env files and interpolation are applied."""
    try:
        return dict(client(root, config, env_file).compose.config(return_json=True))
    except DockerException as error:
        raise docker_cli.explain(error, "docker compose config") from error


def as_json(rows: list[ServiceState]) -> str:
    return json.dumps([asdict(row) for row in rows], indent=2)


def table(rows: list[ServiceState]) -> str:
    if not rows:
        return "no containers: the stack is not running (start it with `inv up`)"
    return progress.columns(("SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS"),
                            [(r.service, r.container, r.state, r.health, ", ".join(r.ports)) for r in rows])
