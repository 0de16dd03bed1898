"""This machine as the stack needs it: disk, memory and cores, free host ports, proxy and CA settings."""

import errno
import json
import re
import shutil
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tooling.doctor.result import Check, fail, ok, warn

GB = 1e9
GIB = 1 << 30
# A cold build, measured with `docker images` on the reference machine (bootstrap source, Docker
# 20.10, legacy builder): base 265 MB; postgres 763, redis 352, edge 355 MB of which 265 are the
# base; five service images of 303 MB sharing the base and one runtime layer (~38 MB each on top);
# Prometheus 698 and Alertmanager 398 MB for --monitoring. Unique layers: ~1.1 GB for the stack,
# ~1.7 GB with monitoring; the builder's intermediate layers and the wheel stage add a few hundred
# MB. Hence ✗ under 2 GB on Docker's disk; ! under 5 GB, since every rebuilt revision adds ~0.2 GB
# of service layers until `inv images.prune`.
DOCKER_NEED_GB = 2.0
DOCKER_COMFORT_GB = 5.0
# The checkout's .stackyard/: the debootstrap root filesystem and its tarball (~170 MB each, while
# the base is made) and the wheelhouse (~30 MB).
CHECKOUT_NEED_GB = 0.5
# Memory and cores: the stack's own figures in deploy/orchestration/base (the compose stack runs
# the same services): requests 5 × 128 Mi (gateway, memory, orchestrator, worker, model) + Redis
# 64 Mi + Postgres 256 Mi ≈ 1 GiB; limits 4 × 384 Mi + model 256 + Redis 256 + Postgres 512 Mi
# = 2.5 GiB, before Prometheus (limit 1 Gi) and a build running beside it. CPU requests add up to
# 0.75 cores; each service may burst to a core.
MEMORY_NEED_GIB = 1.0
MEMORY_COMFORT_GIB = 4.0
CORES_COMFORT = 2
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
CA_VARS = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


# ---------------------------------------------------------------------------------------------
# disk, memory, cores


def disk(checkout: Path, docker_root: str) -> list[Check]:
    """Free space where images go (Docker's root, when this host can see it) and under the checkout."""
    needs: list[tuple[str, Path, float, float]] = [("checkout", checkout, CHECKOUT_NEED_GB, CHECKOUT_NEED_GB * 2)]
    root = Path(docker_root) if docker_root else None
    if root is not None and root.exists():
        needs.append(("docker", root, DOCKER_NEED_GB, DOCKER_COMFORT_GB))
    checks = []
    for label, path, need, comfort in needs:
        free = shutil.disk_usage(path).free / GB
        why = ("the images of a cold build (~1.7 GB of layers measured with `docker images`, plus the "
               "builder's intermediates)" if label == "docker" else "the debootstrap scratch and the wheelhouse")
        name = f"disk ({label})"
        if free < need:
            checks.append(fail(name, f"{free:.1f} GB free under {path}; {need:g} GB are needed for {why}",
                               "free space: `inv images.prune` (other revisions' images), `docker system prune`"))
        elif free < comfort:
            checks.append(warn(name, f"{free:.1f} GB free under {path}: enough for {why} ({need:g} GB), "
                               f"tight after a few rebuilds", f"keep {comfort:g} GB free: `inv images.prune`"))
        else:
            checks.append(ok(name, f"{free:.0f} GB free under {path} (a cold build needs ~{need:g} GB)"))
    if root is None or not root.exists():
        checks.append(ok("disk (docker)", f"Docker's root {docker_root or '(not reported)'} is not on this host "
                         "(Docker Desktop or a remote engine): its disk is not checked"))
    return checks


def memory_and_cores(info: Mapping[str, Any]) -> list[Check]:
    """The engine's memory and cores (its VM's, under Docker Desktop) against the stack's figures."""
    mem = float(info.get("MemTotal") or 0) / GIB
    cores = int(info.get("NCPU") or 0)
    checks = []
    why = "the stack requests ~1 GiB, its limits add to 2.5 GiB (deploy/orchestration/base)"
    if not mem:
        checks.append(ok("memory", "the engine does not report it"))
    elif mem < MEMORY_NEED_GIB:
        checks.append(fail("memory", f"{mem:.1f} GiB for Docker; {why}",
                           "give Docker more memory (Docker Desktop → Settings → Resources), or another machine"))
    elif mem < MEMORY_COMFORT_GIB:
        checks.append(warn("memory", f"{mem:.1f} GiB for Docker: the stack fits ({why}), with a build, "
                           "--monitoring or kind beside it it may not",
                           f"give Docker {MEMORY_COMFORT_GIB:g} GiB or more"))
    else:
        checks.append(ok("memory", f"{mem:.1f} GiB for Docker ({why})"))
    if not cores:
        checks.append(ok("cores", "the engine does not report them"))
    elif cores < CORES_COMFORT:
        checks.append(warn("cores", f"{cores} core: the stack starts (its requests add to 0.75 cores), but builds "
                           "and health waits are slow and `inv loadtest` measures the machine",
                           f"give Docker {CORES_COMFORT} cores or more"))
    else:
        checks.append(ok("cores", f"{cores} (the stack's requests add to 0.75 cores)"))
    return checks


# ---------------------------------------------------------------------------------------------
# host ports


@dataclass(frozen=True)
class WantedPort:
    """A host port the stack publishes, and how a user moves it."""

    name: str  # "gateway"
    host_ip: str  # what compose binds: 0.0.0.0 for the gateway, 127.0.0.1 for monitoring
    port: int
    setting: str  # "gateway.port"
    flag: str = ""  # "--port N" when `inv up` has one
    blocking: bool = True  # False: only `inv up --monitoring` publishes it

    def how_to_move(self, stage: str) -> str:
        env = "STACKYARD__" + "__".join(part.upper() for part in self.setting.split("."))
        ways = [f"`inv up {self.flag}`"] if self.flag else []
        ways += [f"{env}=N", f"{self.setting} in envs/{stage}.yaml"]
        return "choose another port: " + ", or ".join(ways)


@dataclass(frozen=True)
class Publisher:
    container: str
    project: str  # compose project ("" for a plain container)


PORT_ENTRY = re.compile(r"^(?P<ip>.*):(?P<start>\d+)(?:-(?P<end>\d+))?->")
PROJECT_LABEL = re.compile(r"(?:^|,)com\.docker\.compose\.project=([^,]*)")


def publishers(containers: Sequence[Mapping[str, Any]]) -> dict[int, list[Publisher]]:
    """Host port → the running containers publishing it, from `docker ps --format '{{json .}}'`.

    Ports reads like "0.0.0.0:8080->8080/tcp, :::8080->8080/tcp, 127.0.0.1:9000-9001->9000-9001/tcp"
    (docker/cli formatter DisplayablePorts); an exposed, unpublished port has no "->"."""
    found: dict[int, list[Publisher]] = {}
    for row in containers:
        label = PROJECT_LABEL.search(str(row.get("Labels") or ""))
        who = Publisher(str(row.get("Names") or row.get("ID") or "?"), label.group(1) if label else "")
        for entry in str(row.get("Ports") or "").split(","):
            match = PORT_ENTRY.match(entry.strip())
            if not match:
                continue
            start = int(match["start"])
            for port in range(start, int(match["end"] or start) + 1):
                if who not in found.setdefault(port, []):
                    found[port].append(who)
    return found


def bind_probe(host_ip: str, port: int) -> str:
    """"free", "taken", or why it cannot tell: binds (SO_REUSEADDR, as Go's net.Listen and so
    docker-proxy do, so sockets in TIME_WAIT do not count) and closes at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host_ip, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return "taken"
            return f"cannot tell ({error.strerror})"
    return "free"


def port(wanted: WantedPort, published: Mapping[int, list[Publisher]] | None, project: str, stage: str,
         probe: Callable[[str, int], str] = bind_probe) -> Check:
    """`published=None`: `docker ps` did not answer, so a taken port may be this stack's own (an
    `inv up` again): it is reported, never blocking — compose itself fails clearly if it is not."""
    name = f"port {wanted.port} ({wanted.name})"
    owners = (published or {}).get(wanted.port, [])
    ours = [p for p in owners if p.project == project]
    others = [p for p in owners if p.project != project]
    move = wanted.how_to_move(stage)
    if others:
        who = others[0]
        what = f"container {who.container}" + (f" of compose project {who.project!r}" if who.project else "")
        stop = f"`docker compose -p {who.project} down`" if who.project else f"`docker stop {who.container}`"
        return _taken(wanted, name, f"already published by {what}", f"stop it ({stop}) or {move}")
    if ours:
        return ok(name, f"published by this stack's own {ours[0].container} (already up)")
    state = probe(wanted.host_ip, wanted.port)
    if state == "taken" and published is None:
        return warn(name, f"{wanted.host_ip}:{wanted.port} is in use, and Docker did not say by whom in time "
                          "(perhaps this stack, already up)", f"if it is not this stack: {move}")
    if state == "taken":
        return _taken(wanted, name, f"{wanted.host_ip}:{wanted.port} is in use by another process (not a container)",
                      f"stop it (`ss -ltnp 'sport = :{wanted.port}'` shows which) or {move}")
    if state != "free":
        return ok(name, f"{wanted.host_ip}:{wanted.port}: {state}; Docker binds it as root")
    return ok(name, f"{wanted.host_ip}:{wanted.port} is free")


def _taken(wanted: WantedPort, name: str, detail: str, fix: str) -> Check:
    if wanted.blocking:
        return fail(name, detail, fix)
    return warn(name, detail + " (only `inv up --monitoring` publishes it)", fix)


# ---------------------------------------------------------------------------------------------
# proxy and CA settings


def _redact(value: str) -> str:
    """A proxy URL without its password."""
    parts = urlsplit(value)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return value


def _environment_proxy(environ: Mapping[str, str]) -> dict[str, str]:
    found = {}
    for key in PROXY_VARS:
        value = environ.get(key) or environ.get(key.lower())
        if value:
            found[key] = value
    return found


def client_proxies(docker_config: Path) -> dict[str, str]:
    """~/.docker/config.json "proxies" → "default": what `docker build` passes to builds as
    HTTP_PROXY/HTTPS_PROXY/NO_PROXY build args (docs.docker.com/engine/cli/proxy; docker/cli #93)."""
    try:
        data = json.loads((docker_config / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    default = (data.get("proxies") or {}).get("default") if isinstance(data, dict) else None
    return {k: str(v) for k, v in default.items() if v} if isinstance(default, dict) else {}


def proxy(environ: Mapping[str, str], info: Mapping[str, Any], docker_config: Path) -> Check:
    shell = _environment_proxy(environ)
    daemon = {k: str(info.get(f)) for k, f in (("HTTP_PROXY", "HttpProxy"), ("HTTPS_PROXY", "HttpsProxy"),
                                                ("NO_PROXY", "NoProxy")) if info.get(f)}
    client = client_proxies(docker_config)
    if not (shell or daemon or client):
        return ok("proxy", "none in the environment, the daemon (docker info) or ~/.docker/config.json")
    seen = "; ".join(f"{where}: " + ", ".join(f"{k}={_redact(v)}" for k, v in found.items())
                     for where, found in (("shell", shell), ("daemon", daemon), ("docker client", client)) if found)
    shell_proxy = {k: v for k, v in shell.items() if k != "NO_PROXY"}
    if shell_proxy and not any(k in client for k in ("httpProxy", "httpsProxy")):
        return warn("proxy", f"{seen}. Builds do not see this shell's proxy: `docker build` passes only "
                    "~/.docker/config.json \"proxies\", so apt-get in the bootstrap builds cannot reach the mirror",
                    "add {\"proxies\": {\"default\": {\"httpProxy\": …, \"httpsProxy\": …, \"noProxy\": "
                    "\"localhost,127.0.0.1\"}}} to ~/.docker/config.json (docs.docker.com/engine/cli/proxy)")
    if shell_proxy and not daemon:
        return warn("proxy", f"{seen}. The daemon has none, and pulls (upstream images, the kind node image) "
                    "are made by the daemon", "give dockerd the proxy (systemd drop-in with HTTP_PROXY/HTTPS_PROXY, "
                    "docs.docker.com/engine/daemon/proxy), or use images.source: bootstrap")
    no_proxy = shell.get("NO_PROXY", "")
    if shell_proxy and not any(h in no_proxy for h in ("localhost", "127.0.0.1")):
        return warn("proxy", f"{seen}. NO_PROXY lacks localhost: checks and load tests against the local "
                    "stack would go through the proxy", "add localhost,127.0.0.1 to NO_PROXY")
    return ok("proxy", seen)


def ca_bundle(environ: Mapping[str, str]) -> Check:
    """Custom CA settings: the host's pip downloads the wheelhouse with them; the image builds
    install from that wheelhouse offline (deploy/docker/service.Dockerfile `--no-index`) and
    debootstrap/apt use the http mirror, so no CA is needed inside a build."""
    found = {key: environ[key] for key in CA_VARS if environ.get(key)}
    if not found:
        return ok("CA bundle", "no custom CA (" + ", ".join(CA_VARS) + " unset): pip uses its own bundle")
    missing = [f"{key}={value}" for key, value in found.items() if not Path(value).exists()]
    if missing:
        return warn("CA bundle", f"{', '.join(missing)} does not exist: pip's wheel download for a cold build "
                    "fails (\"Could not find a suitable TLS CA certificate bundle\")",
                    "point it at an existing bundle (e.g. /etc/ssl/certs/ca-certificates.crt), or unset it")
    files = sorted(set(found.values()))
    return ok("CA bundle", f"{', '.join(found)} → {', '.join(files)}: used by the host's pip for the wheelhouse; "
              "builds install offline from it, so they need no CA")
