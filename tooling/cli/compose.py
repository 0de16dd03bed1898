"""docker compose v2, through python-on-whales: the one place that drives a compose project.

A `Project` is the compose files, the project env file (--env-file) and the profiles; every
failure comes back as the toolkit's StackyardError naming the command and its last output lines.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException

from tooling.cli.docker import explain


@dataclass(frozen=True)
class Project:
    files: tuple[Path, ...]
    name: str
    env_file: Path | None = None
    profiles: tuple[str, ...] = ()

    def _client(self) -> DockerClient:
        return DockerClient(compose_files=[str(f) for f in self.files],
                            compose_env_files=[str(self.env_file)] if self.env_file else [],
                            compose_project_name=self.name, compose_profiles=list(self.profiles))


@dataclass(frozen=True)
class ContainerState:
    service: str
    container: str
    state: str
    health: str
    ports: list[str] = field(default_factory=list)


def _ports(container: Container) -> list[str]:
    published = []
    for inner, bindings in (container.network_settings.ports or {}).items():
        for binding in bindings or []:
            published.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{inner}")
    return sorted(set(published))


def _state(container: Container) -> ContainerState:
    health = container.state.health.status if container.state.health else "none"
    return ContainerState((container.config.labels or {}).get("com.docker.compose.service", container.name),
                          container.name, container.state.status or "?", health or "none", _ports(container))


def up(project: Project, *, scales: dict[str, int]) -> None:
    """`docker compose up --detach --remove-orphans --pull never --scale …`."""
    try:
        project._client().compose.up(detach=True, remove_orphans=True, scales=scales, pull="never", quiet=True)
    except DockerException as error:
        raise explain(error, "docker compose up") from error


def ps(project: Project) -> list[ContainerState]:
    """Every container of the project, stopped ones included (`docker compose ps --all`)."""
    try:
        return [_state(c) for c in project._client().compose.ps(all=True)]
    except DockerException as error:
        raise explain(error, "docker compose ps") from error


def down(project: Project, *, volumes: bool) -> None:
    try:
        project._client().compose.down(remove_orphans=True, volumes=volumes, quiet=True)
    except DockerException as error:
        raise explain(error, "docker compose down") from error


def logs(project: Project, *, service: str | None, follow: bool, tail: str | None) -> Iterator[str]:
    try:
        for _source, line in project._client().compose.logs(services=[service] if service else [], follow=follow,
                                                            tail=tail, stream=True):
            yield line.decode(errors="replace")
    except DockerException as error:
        raise explain(error, "docker compose logs") from error


def config(project: Project) -> dict[str, Any]:
    """The model as compose resolves it (`docker compose config --format json`)."""
    try:
        return dict(project._client().compose.config(return_json=True))
    except DockerException as error:
        raise explain(error, "docker compose config") from error
