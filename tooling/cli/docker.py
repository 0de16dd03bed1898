"""Docker: the one place that spells a `docker ...` command.

Through python-on-whales where it covers the command and needs neither a time limit nor an
environment of its own (image exists/import/list/remove, engine info, compose); through the one
`seam.run` otherwise: preflight probes (bounded to seconds), the image-store probe for kind,
container inspects, bounded pulls, `docker save`, the
build (which gets its builder environment passed in, never through `os.environ`), `docker stats`
and the offline tool runs of the monitoring checks. Failures of either route are one family:
`CommandError` (argv, exit code, stderr), or a `StackyardError` with what to do next.
"""

import functools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from tooling.cli import run as seam
from tooling.errors import CommandError, StackyardError

PREFLIGHT_TIMEOUT = 4.0
COMPOSE_PROBE_TIMEOUT = 10.0
INSPECT_TIMEOUT = 15.0


@contextmanager
def _whales() -> Iterator[None]:
    """python-on-whales failures as the toolkit's CommandError."""
    try:
        yield
    except DockerException as error:
        raise CommandError(error.docker_command, error.return_code, error.stderr or "") from error


# ---------------------------------------------------------------------------------------------
# preflight: the engine and compose v2 answer within seconds, or say how to fix them


def check_engine() -> None:
    """Fail within seconds when the daemon is down (python-on-whales would wait on the socket)."""
    try:
        seam.run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=PREFLIGHT_TIMEOUT)
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
        return seam.run(["docker", "compose", "version", "--short"], timeout=PREFLIGHT_TIMEOUT).strip()
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


def compose_works(timeout: float = COMPOSE_PROBE_TIMEOUT) -> bool:
    """Whether `docker compose version` succeeds (compose v2 as a CLI plugin)."""
    try:
        seam.run(["docker", "compose", "version"], timeout=timeout)
        return True
    except CommandError:
        return False


def info(*, timeout: float = PREFLIGHT_TIMEOUT) -> dict[str, Any]:
    """`docker info --format '{{json .}}'` as a dict (moby's system.Info: ServerVersion, Driver,
    DriverStatus, CgroupVersion, MemTotal, NCPU, DockerRootDir, HttpProxy/HttpsProxy/NoProxy —
    those three are spelled so in the JSON, the Go fields' json tags), bounded; CommandError when
    the daemon does not answer, {} when the answer does not parse."""
    try:
        parsed = json.loads(seam.run(["docker", "info", "--format", "{{json .}}"], timeout=timeout) or "{}")
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def buildx_version(*, timeout: float = PREFLIGHT_TIMEOUT) -> str:
    """`docker buildx version` ("github.com/docker/buildx v0.x …"); "" when the plugin is missing or broken."""
    try:
        return seam.run(["docker", "buildx", "version"], timeout=timeout).strip()
    except CommandError:
        return ""


def running_containers(*, timeout: float = 10.0) -> list[dict[str, Any]]:
    """`docker ps --format '{{json .}}'`: one object per running container (Names, Ports as docker
    prints them — "0.0.0.0:8080->8080/tcp, :::8080->8080/tcp" —, Labels as "k=v,k=v")."""
    # Named fields, not `{{json .}}`: that includes .Size, which makes the engine measure every
    # container's filesystem (23 s here with a stack running; measured on Docker 20.10).
    fields = ("ID", "Names", "Ports", "Labels")
    template = "{" + ",".join(f'"{name}":{{{{json .{name}}}}}' for name in fields) + "}"
    text = seam.run(["docker", "ps", "--no-trunc", "--format", template], timeout=timeout)
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def architecture() -> str:
    """The engine's architecture (`docker info`), e.g. x86_64; "" when it does not say."""
    with _whales():
        return DockerClient().system.info().architecture or ""


# Checked in moby/moby (daemon/containerd/service.go `LayerStoreStatus`, 2026-08 tree): with the
# containerd image store `docker info` reports DriverStatus [["driver-type",
# "io.containerd.snapshotter.v1"]] (containerd's plugins.SnapshotPlugin); the classic graph
# drivers report their own pairs ("Backing Filesystem", ...). kind #3795 shows the same field.
CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"
# Checked in docker/cli (cli/command/image/save.go): `docker save --platform` carries the API
# annotation "1.48" and arrived in v28.0.0 (commit a20eb45b26); moby's api/docs/v1.48.yaml adds the
# `platform` query to /images/{name}/get. Older CLIs or engines (Debian's 20.10: API 1.41) lack it.
SAVE_PLATFORM_API = (1, 48)
# `uname -m` spellings (moby daemon/internal/platform `Architecture`) → OCI architectures.
OCI_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
            "armhf": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class EngineFacts:
    """What image loading into kind needs to know about the engine."""

    containerd_store: bool
    platform: str  # "linux/amd64"; "" when the engine does not say
    save_platform: bool  # `docker save --platform` works (CLI and engine at API >= 1.48)


def _api_version(text: str) -> tuple[int, int]:
    major, _, minor = text.strip().partition(".")
    try:
        return int(major), int(minor)
    except ValueError:
        return 0, 0


def engine_facts(*, timeout: float = INSPECT_TIMEOUT) -> EngineFacts:
    """`docker info` (image store, architecture) and `docker version` (negotiated API version).

    Through the seam, not python-on-whales, so the probes are bounded and fakeable; an answer
    that does not parse counts as the classic store (kind's own `docker-image` route)."""
    try:
        parsed = json.loads(seam.run(["docker", "info", "--format", "{{json .}}"], timeout=timeout) or "{}")
    except (CommandError, json.JSONDecodeError):
        parsed = {}
    info: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    status = info.get("DriverStatus") or []
    containerd = any(isinstance(pair, list) and pair[:2] == ["driver-type", CONTAINERD_SNAPSHOTTER] for pair in status)
    arch = OCI_ARCH.get(str(info.get("Architecture") or "").lower(), "")
    os_type = str(info.get("OSType") or "linux")
    try:
        # The Client's APIVersion is the negotiated one (docker/cli cli/command/system/version.go:
        # `dockerCli.CurrentVersion()`): it is >= 1.48 only when both the CLI and the engine are.
        api = _api_version(seam.run(["docker", "version", "--format", "{{.Client.APIVersion}}"], timeout=timeout))
    except CommandError:
        api = (0, 0)
    return EngineFacts(containerd, f"{os_type}/{arch}" if arch else "", api >= SAVE_PLATFORM_API)


# ---------------------------------------------------------------------------------------------
# images


def image_exists(ref: str) -> bool:
    """`docker image inspect`: False only for "no such image"; other failures raise CommandError."""
    with _whales():
        return DockerClient().image.exists(ref)


def image_id(ref: str, *, timeout: float = INSPECT_TIMEOUT) -> str | None:
    """The local image's ID, within `timeout`; None when the inspect fails for any reason."""
    try:
        return seam.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], timeout=timeout).strip()
    except CommandError:
        return None


def pull(ref: str, *, timeout: float | None = None) -> None:
    """`docker pull --quiet REF`, bounded by `timeout` when given; CommandError when it fails."""
    seam.run(["docker", "pull", "--quiet", ref], timeout=timeout)


def pull_with_progress(ref: str, *, timeout: float) -> None:
    """`docker pull REF` with its own layer progress on the terminal (not captured), bounded.

    A CommandError on failure carries no stderr: docker printed the reason above it."""
    seam.run(["docker", "pull", ref], timeout=timeout, capture=False)


def import_image(tarball: Path, ref: str, *, changes: Sequence[str] = ()) -> None:
    """`docker image import` of a root filesystem tarball as REF, with Dockerfile `changes`."""
    with _whales():
        DockerClient().image.import_(tarball, tag=ref, changes=list(changes))


def image_tags() -> list[str]:
    """Every repo:tag of every local image."""
    with _whales():
        return [tag for image in DockerClient().image.list() for tag in image.repo_tags]


def remove_images(refs: Sequence[str]) -> None:
    """`docker image rm` (never forced: a tag a container uses stays)."""
    with _whales():
        DockerClient().image.remove(list(refs), force=False)


def save(ref: str, archive: Path, *, timeout: float | None = None, platform: str = "") -> None:
    """`docker save [--platform P] --output ARCHIVE REF` (only `platform`'s variant when given)."""
    chosen = ["--platform", platform] if platform else []
    seam.run(["docker", "save", *chosen, "--output", str(archive), ref], timeout=timeout)


@functools.cache
def _has_buildx() -> bool:
    try:
        seam.run(["docker", "buildx", "version"], timeout=PREFLIGHT_TIMEOUT)
        return True
    except CommandError:
        return False


def buildkit_env() -> dict[str, str]:
    """What the build command's environment needs: without the buildx plugin the CLI must be
    told to use the legacy builder. A DOCKER_BUILDKIT the user set is left as it is."""
    if os.environ.get("DOCKER_BUILDKIT") or _has_buildx():
        return {}
    return {"DOCKER_BUILDKIT": "0"}


def _build_argv(context: Path, *, dockerfile: Path, tag: str, build_args: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None) -> list[str]:
    argv = ["docker", "build", "--quiet"]
    for key, value in (build_args or {}).items():
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in (labels or {}).items():
        argv += ["--label", f"{key}={value}"]
    return [*argv, "--file", str(dockerfile), "--tag", tag, str(context)]


def build(context: Path, *, dockerfile: Path, tag: str, build_args: Mapping[str, str] | None = None,
          labels: Mapping[str, str] | None = None) -> None:
    """`docker build` of one image; the builder choice (`buildkit_env`) goes to this one command's
    environment. Raises a StackyardError naming the image and the build's last output lines."""
    argv = _build_argv(context, dockerfile=dockerfile, tag=tag, build_args=build_args, labels=labels)
    try:
        seam.run(argv, env=buildkit_env())
    except CommandError as error:
        raise explain(error, f"building {tag}") from error


# ---------------------------------------------------------------------------------------------
# containers


def inspect_containers(names: Sequence[str], *, timeout: float = INSPECT_TIMEOUT) -> list[dict[str, Any]]:
    """`docker inspect --type container NAME...`: one JSON object per container."""
    text = seam.run(["docker", "inspect", "--type", "container", *names], timeout=timeout)
    found = json.loads(text or "[]")
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []



def stats_json(containers: Sequence[str], *, timeout: float = 30.0) -> str:
    """`docker stats --no-stream --format '{{json .}}' NAME...`: one JSON object per line."""
    return seam.run(["docker", "stats", "--no-stream", "--format", "{{json .}}", *containers], timeout=timeout)


def offline_tool_argv(image: str, tool: str, mounts: Mapping[Path, str], args: Sequence[str]) -> list[str]:
    """`docker run` of `tool` in `image`: no network, read-only root, each mount read-only."""
    argv = ["docker", "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--entrypoint", tool]
    for source, target in mounts.items():
        argv += ["-v", f"{source}:{target}:ro"]
    return [*argv, image, *args]


def run_offline_tool(argv: Sequence[str], *, timeout: float) -> str:
    """Run an argv made by `offline_tool_argv` (possibly with a mount swapped); its stdout."""
    if list(argv[:2]) != ["docker", "run"]:
        raise ValueError(f"not a `docker run` argv from offline_tool_argv: {list(argv[:3])}")
    return seam.run(argv, timeout=timeout)


# ---------------------------------------------------------------------------------------------


def explain(error: DockerException | CommandError, doing: str) -> StackyardError:
    if isinstance(error, CommandError):
        argv, code, stderr = error.argv, error.returncode, error.stderr
    else:
        argv, code, stderr = list(error.docker_command), error.return_code, error.stderr or ""
    tail = "\n    ".join(stderr.strip().splitlines()[-8:]) or "(no output)"
    return StackyardError(f"{doing} failed: `{' '.join(argv)}` exited {code}:\n    {tail}",
                          "read the output above; STACKYARD_DEBUG=1 echoes every command")


def images_with_label(label: str) -> list[str]:
    """repo:tag of every local image carrying `label` (KEY=VALUE), newest first."""
    with _whales():
        found = DockerClient().image.list(filters={"label": label})
    return [tag for image in sorted(found, key=lambda i: i.created, reverse=True) for tag in image.repo_tags]
