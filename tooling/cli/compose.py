"""docker compose v2, through python-on-whales: the one place that drives a compose project.

A `Project` is the compose files, the project env file (--env-file) and the profiles; every
failure comes back as the toolkit's StackyardError naming the command and its last output lines.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import stream_stdout_and_stderr

from tooling.cli.docker import explain, inspect_containers
from tooling.errors import CommandError


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


def _ports(inspected: dict[str, Any]) -> list[str]:
    published = []
    for inner, bindings in ((inspected.get("NetworkSettings") or {}).get("Ports") or {}).items():
        for binding in bindings or []:
            published.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{inner}")
    return sorted(set(published))


def container_state(inspected: dict[str, Any]) -> ContainerState:
    """One `docker inspect` object as the state compose tasks read."""
    name = str(inspected.get("Name") or inspected.get("Id") or "?").lstrip("/")
    state = inspected.get("State") or {}
    labels = (inspected.get("Config") or {}).get("Labels") or {}
    return ContainerState(labels.get("com.docker.compose.service", name), name, state.get("Status") or "?",
                          (state.get("Health") or {}).get("Status") or "none", _ports(inspected))


def up(project: Project, *, scales: dict[str, int]) -> None:
    """`docker compose up --detach --remove-orphans --pull never --scale …`."""
    try:
        project._client().compose.up(detach=True, remove_orphans=True, scales=scales, pull="never", quiet=True)
    except DockerException as error:
        raise explain(error, "docker compose up") from error


def inspect_all(project: Project) -> list[dict[str, Any]]:
    """`docker compose ps --all --quiet`, then one `docker inspect` of every container it lists.

    Two commands whatever the number of containers (a python-on-whales Container inspects itself
    on first use, one command each). A container removed between the two makes the inspect fail:
    asked once more, then the failure is reported."""
    for attempt in (1, 2):
        try:
            ids = [c.id for c in project._client().compose.ps(all=True)]
        except DockerException as error:
            raise explain(error, "docker compose ps") from error
        if not ids:
            return []
        try:
            return inspect_containers(ids)
        except CommandError as error:
            if attempt == 2:
                raise explain(error, "docker inspect") from error
    return []


def ps(project: Project) -> list[ContainerState]:
    """Every container of the project, stopped ones included (`docker compose ps --all`)."""
    return [container_state(found) for found in inspect_all(project)]


def down(project: Project, *, volumes: bool) -> None:
    try:
        project._client().compose.down(remove_orphans=True, volumes=volumes, quiet=True)
    except DockerException as error:
        raise explain(error, "docker compose down") from error


def logs(project: Project, *, services: Sequence[str], follow: bool, tail: str | None) -> Iterator[str]:
    """`docker compose logs --no-color [--follow] [--tail N] SERVICE…` (every service when none):
    each line as compose prints it, prefixed `NAME  | ` with NAME the container less the project."""
    try:
        for _source, line in project._client().compose.logs(services=list(services), follow=follow, tail=tail,
                                                            stream=True):
            yield line.decode(errors="replace")
    except DockerException as error:
        raise explain(error, "docker compose logs") from error


def log_tail(container: str, lines: int) -> list[str]:
    """`docker logs --timestamps --tail N CONTAINER`: its stdout and stderr lines, each led by
    docker's RFC 3339 time (the two streams arrive apart; that time puts them back in order)."""
    try:
        return [line.decode(errors="replace").rstrip("\n") for _source, line in
                stream_stdout_and_stderr(["docker", "logs", "--timestamps", "--tail", str(lines), container])]
    except DockerException as error:
        raise explain(error, f"docker logs {container}") from error


def config(project: Project) -> dict[str, Any]:
    """The model as compose resolves it (`docker compose config --format json`)."""
    try:
        return dict(project._client().compose.config(return_json=True))
    except DockerException as error:
        raise explain(error, "docker compose config") from error


def restart(project: Project, services: list[str]) -> None:
    """`docker compose restart SERVICE…`: stop (SIGTERM, the drain) and start the same containers."""
    try:
        project._client().compose.restart(services)
    except DockerException as error:
        raise explain(error, "docker compose restart") from error


def recent_logs(project: Project, service: str, *, since: str, tail: int = 60) -> str:
    """One service's log lines since an RFC 3339 time (`docker compose logs --no-log-prefix --since`)."""
    try:
        text = project._client().compose.logs(services=[service], since=since, tail=str(tail), no_log_prefix=True)
    except DockerException as error:
        raise explain(error, "docker compose logs") from error
    return str(text)


def stop(project: Project, services: list[str], *, timeout: int = 5) -> None:
    """`docker compose stop -t N SERVICE…`: a crash-looping service stays down until it is restarted."""
    try:
        project._client().compose.stop(services, timeout=timeout)
    except DockerException as error:
        raise explain(error, "docker compose stop") from error
