"""Docker engine and compose v2, through python-on-whales; errors become StackyardError with a fix."""

import os
from pathlib import Path

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from tooling.cli.run import CommandError, run
from tooling.errors import StackyardError

PREFLIGHT_TIMEOUT = 4.0


def client(*, compose_files: list[Path] | None = None, env_file: Path | None = None,
           project: str | None = None, profiles: list[str] | None = None) -> DockerClient:
    return DockerClient(
        compose_files=[str(f) for f in compose_files or []],
        compose_env_files=[str(env_file)] if env_file else [],
        compose_project_name=project,
        compose_profiles=profiles or [],
    )


def check_engine() -> None:
    """Fail within seconds when the daemon is down (python-on-whales would wait on the socket)."""
    try:
        run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=PREFLIGHT_TIMEOUT)
    except CommandError as error:
        if error.returncode == 127:
            raise StackyardError("the `docker` command is not installed",
                                 "install Docker Engine (https://docs.docker.com/engine/install/)") from error
        last = error.stderr.strip().splitlines()[-1] if error.stderr.strip() else "no answer"
        raise StackyardError(
            f"the Docker daemon is not reachable ({last})",
            "start it (`sudo systemctl start docker`, or open Docker Desktop) and check that "
            "your user may use it (`docker info`)",
        ) from error


def check_compose() -> str:
    try:
        return run(["docker", "compose", "version", "--short"], timeout=PREFLIGHT_TIMEOUT).strip()
    except CommandError as error:
        raise StackyardError(
            "docker compose v2 is not available (`docker compose version` failed)",
            "run `./dev` once (it installs the compose v2 plugin), or install Docker's "
            "docker-compose-plugin package",
        ) from error


def check_engine_and_compose() -> None:
    """The preflight of every compose task: both answer within seconds or say how to fix them."""
    check_engine()
    check_compose()


def buildkit_env() -> dict[str, str]:
    """Without the buildx plugin the CLI must be told to use the legacy builder."""
    if os.environ.get("DOCKER_BUILDKIT"):
        return {}
    try:
        run(["docker", "buildx", "version"], timeout=PREFLIGHT_TIMEOUT)
        return {}
    except CommandError:
        return {"DOCKER_BUILDKIT": "0"}


def explain(error: DockerException, doing: str) -> StackyardError:
    stderr = (error.stderr or "").strip()
    tail = "\n    ".join(stderr.splitlines()[-8:]) or "(no output)"
    return StackyardError(f"{doing} failed: `{' '.join(error.docker_command)}` exited "
                          f"{error.return_code}:\n    {tail}",
                          "read the output above; STACKYARD_DEBUG=1 echoes every command")
