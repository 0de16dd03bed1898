"""Which checks `inv doctor` runs and in what order, and the fast subset `inv up` runs first.

Each check is bounded in seconds (every command through the seam with a timeout of at most 5 s,
the registry request 2.5 s); the engine is asked once (`docker info`) and the checks read that.
When the engine does not answer, the checks that need it are listed as not checked.
"""

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tooling import bootstrap
from tooling.cli import docker as docker_cli
from tooling.config import StackConfig
from tooling.doctor import checks_docker, checks_host
from tooling.doctor.result import Check, fail, probe, warn
from tooling.errors import CommandError, StackyardError

ENGINE_CHECKS = ("docker compose v2", "builder", "image store", "cgroups", "memory", "cores", "ports",
                 "image source", "kind node image")


def wanted_ports(config: StackConfig, *, monitoring: bool = True, grafana: bool = True,
                 monitoring_blocks: bool = False) -> list[checks_host.WantedPort]:
    """The host ports the stack publishes: the gateway (docker-compose.yml edge, all interfaces) and,
    with --monitoring, its ports on 127.0.0.1 (deploy/monitoring/compose.yml)."""
    found = [checks_host.WantedPort("gateway", "0.0.0.0", config.gateway.port, "gateway.port", "--port N")]
    if monitoring:
        mon = config.monitoring
        pairs = [("prometheus", mon.prometheus_port, "prometheus_port"),
                 ("alertmanager", mon.alertmanager_port, "alertmanager_port"),
                 ("alert receiver", mon.receiver_port, "receiver_port")]
        pairs += [("grafana", mon.grafana_port, "grafana_port")] if grafana else []
        for name, number, key in pairs:
            found.append(checks_host.WantedPort(name, "127.0.0.1", number, f"monitoring.{key}",
                                                blocking=monitoring_blocks))
    return found


def _engine() -> tuple[list[Check], dict[str, Any] | None]:
    started = time.monotonic()
    info: dict[str, Any] | None = None
    try:
        docker_cli.check_engine()
        info = docker_cli.info()
        check = checks_docker.engine(info)
    except StackyardError as error:
        detail = error.message if not isinstance(error, CommandError) else error.stderr.strip() or error.message
        hint = error.hint or "start Docker and check that your user may use it (`docker info`)"
        check = fail("docker engine", detail.splitlines()[-1] if detail else "no answer", hint)
    check.seconds = round(time.monotonic() - started, 3)
    return [check], info


def _ports(config: StackConfig, wanted: Sequence[checks_host.WantedPort]) -> list[Check]:
    published: dict[int, list[checks_host.Publisher]] | None
    try:
        published = checks_host.publishers(docker_cli.running_containers())
    except CommandError:
        published = None  # a busy engine: who holds a port is unknown, so a taken one cannot block
    return [checks_host.port(w, published, config.compose.project_name, config.stage) for w in wanted]


def _not_checked(names: Sequence[str]) -> list[Check]:
    return [warn(name, "not checked: the Docker daemon did not answer", "fix `docker engine` first") for name in names]


def all_checks(root: Path, config: StackConfig, environ: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in the order a user fixes them."""
    from tooling.doctor import checks_images, checks_kubernetes  # heavier imports: `inv doctor` only

    environ = os.environ if environ is None else environ
    docker_config = bootstrap.plugin_dir().parent
    checks, info = _engine()
    if info is not None:
        checks += probe("docker compose v2", lambda: checks_docker.compose(info))
        checks += probe("builder", lambda: checks_docker.builder(environ))
        checks += probe("image store", lambda: checks_docker.image_store(info), blocking=False)
        checks += probe("cgroups", lambda: checks_docker.cgroups(info), blocking=False)
        checks += probe("memory", lambda: checks_host.memory_and_cores(info))
        grafana = config.monitoring.grafana != "never"
        checks += probe("ports", lambda: _ports(config, wanted_ports(config, grafana=grafana)))
        checks += probe("image source", lambda: checks_images.image_source(config, root))
    else:
        checks += _not_checked(ENGINE_CHECKS[:-1])
    checks += probe("disk", lambda: checks_host.disk(root, str((info or {}).get("DockerRootDir") or "")))
    checks += probe("proxy", lambda: checks_host.proxy(environ, info or {}, docker_config), blocking=False)
    checks += probe("CA bundle", lambda: checks_host.ca_bundle(environ), blocking=False)
    checks += probe("kind", lambda: checks_kubernetes.kind_check(root), blocking=False)
    checks += probe("kubectl", lambda: checks_kubernetes.kubectl_check(root), blocking=False)
    if info is not None:
        checks += probe("kind node image", checks_kubernetes.node_image, blocking=False)
    else:
        checks += _not_checked(ENGINE_CHECKS[-1:])
    return checks


def up_preflight(config: StackConfig, *, monitoring: bool = False, grafana: bool = False) -> list[Check]:
    """`inv up`'s first step, in about a second: the engine answers, compose v2 works, and the host
    ports it will publish are free (or already ours). Raises one StackyardError naming every ✗."""
    checks, info = _engine()
    if info is not None:
        checks += probe("docker compose v2", lambda: checks_docker.compose(info))
        wanted = wanted_ports(config, monitoring=monitoring, grafana=grafana, monitoring_blocks=True)
        checks += probe("ports", lambda: _ports(config, wanted))
    blocking = [c for c in checks if c.blocks]
    if blocking:
        lines = "\n".join(f"  ✗ {c.name}: {c.detail}\n    → {c.fix}" for c in blocking)
        raise StackyardError(f"`inv up` cannot start the stack:\n{lines}",
                             "fix the above (nothing was built or started); `inv doctor` checks everything else")
    return checks
