"""`inv doctor` and `inv up`'s preflight at the one CLI seam: run() is faked, everything else is real
(config, the checks, the report); host ports are probed with real sockets bound here."""

import json
import shutil
import socket
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from tooling import config, images
from tooling.cli import run as seam
from tooling.doctor import checks_docker, checks_host, checks_images, checks_kubernetes, report, run
from tooling.doctor.result import FAIL, OK, WARN, Check
from tooling.errors import CommandError, StackyardError
from tooling.tasks import dev, stack

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30

# `docker info --format '{{json .}}'` of a healthy Docker 27 engine (the fields the doctor reads).
HEALTHY_INFO: dict[str, Any] = {
    "ServerVersion": "27.5.1", "OSType": "linux", "Architecture": "x86_64", "OperatingSystem": "Ubuntu 24.04",
    "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]], "CgroupVersion": "2",
    "CgroupDriver": "systemd", "MemTotal": 16 * GIB, "NCPU": 8, "DockerRootDir": "/nonexistent/docker",
    "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
    "ClientInfo": {"Plugins": [{"Name": "compose", "Path": "/usr/libexec/docker/cli-plugins/docker-compose"}]},
}


class FakeDocker:
    """Stands in for tooling.cli.run.run: answers the read-only commands the doctor asks."""

    def __init__(self, info: dict[str, Any] | None = None, *, engine_up: bool = True, buildx: bool = True,
                 compose: str = "2.40.3", containers: list[dict[str, str]] | None = None,
                 images_here: tuple[str, ...] = ("*",)) -> None:
        self.info = HEALTHY_INFO if info is None else info
        self.engine_up, self.buildx, self.compose = engine_up, buildx, compose
        self.containers = containers or []
        self.images_here = images_here
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], *, timeout: float | None = None, **_: object) -> str:
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        assert timeout is not None and timeout <= 10, f"every doctor command is bounded in seconds: {argv}"
        if argv[0] == "docker" and not self.engine_up:
            raise CommandError(argv, 1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
        words = argv[1:3]
        if words == ["version", "--format"]:
            return "1.47" if "Client" in argv[3] else str(self.info.get("ServerVersion", ""))
        if words == ["info", "--format"]:
            return json.dumps(self.info)
        if words == ["compose", "version"]:
            if not self.compose:
                raise CommandError(argv, 1, "docker: 'compose' is not a docker command.")
            return self.compose
        if words == ["buildx", "version"]:
            if not self.buildx:
                raise CommandError(argv, 1, "docker: 'buildx' is not a docker command.")
            return "github.com/docker/buildx v0.19.3 48d6a39"
        if argv[1] == "ps":
            return "\n".join(json.dumps(c) for c in self.containers)
        if words == ["image", "inspect"]:
            ref = argv[-1]
            if "*" in self.images_here or ref in self.images_here:
                return "sha256:" + "0" * 64
            raise CommandError(argv, 1, f"Error: No such image: {ref}")
        if Path(argv[0]).name == "kubectl":
            return json.dumps({"clientVersion": {"gitVersion": checks_kubernetes.kubectl_pin(ROOT)}})
        if Path(argv[0]).name.startswith("kind"):
            return "kind v0.32.0 go1.25 linux/amd64"
        raise AssertionError(f"the doctor ran a command it should not: {argv}")

    def ran(self, *words: str) -> bool:
        return any(argv[1:1 + len(words)] == list(words) for argv in self.calls)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeDocker]:
    def install(**kwargs: Any) -> FakeDocker:
        runner = FakeDocker(**kwargs)
        monkeypatch.setattr(seam, "run", runner)  # every adapter calls seam.run: one patch fakes them all
        return runner
    return install


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A checkout with the pyproject.toml (the kubectl pin) and no kind of ours."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other process (this test) is listening on, on every interface."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield holder.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        return int(probe.getsockname()[1])


def stage_config(port: int | None = None, **overrides: Any) -> config.StackConfig:
    values: dict[str, Any] = {"gateway.port": port or free_port(), **overrides}
    for key in ("prometheus_port", "alertmanager_port", "receiver_port", "grafana_port"):
        values.setdefault(f"monitoring.{key}", free_port())
    return config.load("dev", ROOT / "envs", environ={}, overrides=values)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


# ---------------------------------------------------------------------------------------------
# the whole doctor


def test_a_healthy_machine_passes_with_every_check_named_in_json(fake: Any, root: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKYARD_KIND", str(root / "kind"))
    (root / "kind").write_text("")
    fake()
    started = time.monotonic()
    checks = run.all_checks(root, stage_config(), environ={})
    assert time.monotonic() - started < 5
    found = by_name(checks)
    assert not [c for c in checks if c.status == FAIL], report.text(checks, 0)
    for name in ("docker engine", "docker compose v2", "builder", "image store", "cgroups", "memory", "cores",
                 "image source", "disk (checkout)", "proxy", "CA bundle", "kind", "kubectl", "kind node image"):
        assert name in found, name
    assert found["docker engine"].detail.startswith("reachable: Docker Engine 27.5.1")
    assert found["builder"].status == OK and "BuildKit" in found["builder"].detail
    assert found["kubectl"].status == OK and "pinned by pyproject.toml" in found["kubectl"].detail
    data = json.loads(report.as_json(checks, 0.1))
    assert data["ok"] is True
    assert {"name", "status", "detail", "fix"} <= set(data["checks"][0])
    assert {c["status"] for c in data["checks"]} <= {OK, WARN, FAIL}
    assert "✓ the stack can start" in report.text(checks, 0.1)


def test_a_dead_daemon_fails_with_its_fix_and_skips_what_needs_it(fake: Any, root: Path) -> None:
    fake(engine_up=False)
    checks = run.all_checks(root, stage_config(), environ={})
    found = by_name(checks)
    assert found["docker engine"].status == FAIL
    assert "systemctl start docker" in found["docker engine"].fix
    assert found["docker compose v2"].detail.startswith("not checked")
    assert "✗ the stack cannot start: docker engine" in report.text(checks, 0.1)
    assert json.loads(report.as_json(checks, 0.1))["ok"] is False


def test_the_doctor_task_exits_1_on_a_blocking_check(fake: Any, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    fake(engine_up=False)
    with pytest.raises(Exit) as stopped:
        dev.doctor(Context(), json=True)
    assert stopped.value.code == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


# ---------------------------------------------------------------------------------------------
# host ports: a real socket holds the port


def test_a_port_held_by_another_process_blocks_and_says_how_to_move(fake: Any, held_port: int) -> None:
    fake()
    cfg = stage_config(held_port)
    (check,) = [c for c in run._ports(cfg, run.wanted_ports(cfg, monitoring=False))]
    assert check.status == FAIL
    assert "another process" in check.detail
    assert "`inv up --port N`" in check.fix and "STACKYARD__GATEWAY__PORT=N" in check.fix


def test_inv_up_fails_fast_on_a_taken_port_before_building_anything(fake: Any, held_port: int,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    runner = fake()
    monkeypatch.setattr(stack, "load_config", lambda stage, overrides=None: stage_config(held_port))
    started = time.monotonic()
    with pytest.raises(Exit):
        stack.up(Context(), port=held_port)
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert f"port {held_port} (gateway)" in err and "inv up --port N" in err and "STACKYARD__GATEWAY__PORT" in err
    assert not runner.ran("build") and not runner.ran("pull") and not runner.ran("image", "inspect")


def test_a_port_published_by_our_own_stack_is_fine_another_projects_is_named(fake: Any, held_port: int) -> None:
    cfg = stage_config(held_port)
    ours = {"Names": "stackyard-edge-1", "Ports": f"0.0.0.0:{held_port}->8080/tcp, :::{held_port}->8080/tcp",
            "Labels": "com.docker.compose.project=stackyard,com.docker.compose.service=edge"}
    fake(containers=[ours])
    (check,) = run._ports(cfg, run.wanted_ports(cfg, monitoring=False))
    assert check.status == OK and "stackyard-edge-1" in check.detail
    theirs = {**ours, "Names": "shop-web-1", "Labels": "com.docker.compose.project=shop"}
    fake(containers=[theirs])
    (check,) = run._ports(cfg, run.wanted_ports(cfg, monitoring=False))
    assert check.status == FAIL and "shop-web-1" in check.detail and "'shop'" in check.detail
    assert "docker compose -p shop down" in check.fix


def test_monitoring_ports_warn_in_doctor_and_block_inv_up_monitoring(fake: Any, held_port: int) -> None:
    fake()
    cfg = stage_config(**{"monitoring.prometheus_port": held_port})
    checks = by_name(run._ports(cfg, run.wanted_ports(cfg)))
    assert checks[f"port {held_port} (prometheus)"].status == WARN
    assert "STACKYARD__MONITORING__PROMETHEUS_PORT=N" in checks[f"port {held_port} (prometheus)"].fix
    run.up_preflight(cfg)  # without --monitoring the port does not matter
    with pytest.raises(StackyardError, match=f"port {held_port} \\(prometheus\\)"):
        run.up_preflight(cfg, monitoring=True)


def test_docker_ps_ports_are_parsed_with_ranges_and_ipv6() -> None:
    found = checks_host.publishers([
        {"Names": "a", "Ports": "0.0.0.0:8000-8002->8000-8002/tcp, :::8000-8002->8000-8002/tcp", "Labels": ""},
        {"Names": "b", "Ports": "127.0.0.1:9090->9090/tcp, 6379/tcp", "Labels": "com.docker.compose.project=p"},
    ])
    assert sorted(found) == [8000, 8001, 8002, 9090]
    assert found[8001] == [checks_host.Publisher("a", "")]
    assert found[9090] == [checks_host.Publisher("b", "p")]


# ---------------------------------------------------------------------------------------------
# the engine's facts


def test_the_builder_follows_the_docker_cli_rule(fake: Any) -> None:
    fake(buildx=False)
    assert checks_docker.builder({}).status == WARN and "legacy" in checks_docker.builder({}).detail
    assert checks_docker.builder({"DOCKER_BUILDKIT": "1"}).status == FAIL
    assert checks_docker.builder({"DOCKER_BUILDKIT": "yes"}).status == FAIL
    fake(buildx=True)
    assert checks_docker.builder({}).status == OK
    assert checks_docker.builder({"DOCKER_BUILDKIT": "0"}).status == WARN


def test_the_containerd_image_store_warns_naming_the_kind_workaround(fake: Any) -> None:
    fake()
    info = {**HEALTHY_INFO, "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}
    check = checks_docker.image_store(info)
    assert check.status == WARN and "kind #3795" in check.detail
    assert "cannot `docker save --platform`" in check.detail  # the fake negotiates API 1.47
    assert checks_docker.image_store(HEALTHY_INFO).status == OK


def test_cgroup_v1_warns_for_kind_only() -> None:
    assert checks_docker.cgroups({"CgroupVersion": "1"}).status == WARN
    assert checks_docker.cgroups({"CgroupVersion": "2"}).status == OK


def test_a_broken_compose_plugin_of_ours_is_named(fake: Any, tmp_path: Path) -> None:
    plugin = tmp_path / "docker-compose"
    plugin.write_text("")
    fake(compose="")
    check = checks_docker.compose(HEALTHY_INFO, ours=plugin)
    assert check.status == FAIL and str(plugin) in check.detail and "./dev" in check.fix
    fake(compose="1.29.2")
    assert checks_docker.compose(HEALTHY_INFO, ours=plugin).status == FAIL


def test_memory_and_core_thresholds() -> None:
    def statuses(mem_gib: float, cores: int) -> list[str]:
        return [c.status for c in checks_host.memory_and_cores({"MemTotal": mem_gib * GIB, "NCPU": cores})]

    assert statuses(0.5, 4) == [FAIL, OK]
    assert statuses(2, 1) == [WARN, WARN]
    assert statuses(8, 2) == [OK, OK]


def test_disk_below_the_cold_build_need_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=int(0.1e9)))
    checks = by_name(checks_host.disk(tmp_path, str(tmp_path)))
    assert checks["disk (checkout)"].status == FAIL and checks["disk (docker)"].status == FAIL
    assert "images.prune" in checks["disk (docker)"].fix


# ---------------------------------------------------------------------------------------------
# proxy and CA


def test_a_shell_proxy_builds_cannot_see_is_a_warning_with_its_password_hidden(tmp_path: Path) -> None:
    environ = {"HTTPS_PROXY": "http://me:secret@proxy.corp:3128", "NO_PROXY": "localhost"}
    check = checks_host.proxy(environ, {"HttpsProxy": "http://proxy.corp:3128"}, tmp_path)
    assert check.status == WARN and "config.json" in check.fix
    assert "secret" not in check.detail and "me:***@proxy.corp" in check.detail
    (tmp_path / "config.json").write_text(json.dumps({"proxies": {"default": {"httpsProxy": "http://proxy.corp:3128"}}}))
    assert checks_host.proxy(environ, {"HttpsProxy": "http://proxy.corp:3128"}, tmp_path).status == OK
    assert checks_host.proxy({}, {}, tmp_path / "none").status == OK


def test_a_ca_bundle_that_does_not_exist_is_named(tmp_path: Path) -> None:
    check = checks_host.ca_bundle({"PIP_CERT": str(tmp_path / "missing.pem")})
    assert check.status == WARN and "missing.pem" in check.detail
    (tmp_path / "corp.pem").write_text("")
    assert checks_host.ca_bundle({"SSL_CERT_FILE": str(tmp_path / "corp.pem")}).status == OK


# ---------------------------------------------------------------------------------------------
# image source and kind


def test_image_source_mirrors_resolve_source_without_pulling(fake: Any, root: Path) -> None:
    cfg = stage_config()
    base = images.base_ref(cfg)
    fake(images_here=(base,))
    assert "bootstrap" in checks_images.image_source(cfg, root, answers=lambda host: "").detail
    fake(images_here=())
    up = checks_images.image_source(cfg, root, answers=lambda host: "")
    assert up.status == OK and "registry-1.docker.io answers" in up.detail
    upstream_cfg = stage_config(**{"images.source": "upstream"})
    down = checks_images.image_source(upstream_cfg, root, answers=lambda host: "timed out")
    assert down.status == FAIL and "images.source: bootstrap" in down.fix


def test_registry_probe_counts_an_http_401_as_reachable() -> None:
    def unauthorized(url: str, timeout: float) -> Any:
        raise urllib.error.HTTPError(url, 401, "Unauthorized", {}, None)  # type: ignore[arg-type]

    def unreachable(url: str, timeout: float) -> Any:
        raise urllib.error.URLError("Name or service not known")

    assert checks_images.registry_answers("registry-1.docker.io", opener=unauthorized) == ""
    assert "not known" in checks_images.registry_answers("registry-1.docker.io", opener=unreachable)
    assert checks_images.registry_host("ghcr.io/acme/app:1") == "ghcr.io"
    assert checks_images.registry_host("prom/prometheus:v2") == "registry-1.docker.io"


def test_kind_missing_or_off_pin_warns_and_the_node_image_is_only_looked_for(fake: Any, root: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STACKYARD_KIND", raising=False)
    monkeypatch.setenv("PATH", str(root / "empty"))
    runner = fake(images_here=())
    kind = checks_kubernetes.kind_check(root)
    assert kind.status == WARN and "v0.32.0" in kind.detail and "inv cluster" in kind.fix
    node = checks_kubernetes.node_image()
    assert node.status == WARN and "will be pulled by `inv cluster` (needs Docker Hub)" in node.detail
    assert not runner.ran("pull")


def test_a_taken_port_does_not_block_when_docker_cannot_say_who_holds_it() -> None:
    """Under load `docker ps` can outlast its timeout; the port may be this stack's own (`inv up`
    again), so it is reported, not refused (compose fails clearly if it really is someone else's)."""
    from tooling.doctor import checks_host

    wanted = checks_host.WantedPort("gateway", "0.0.0.0", 18099, "gateway.port", "--port N")
    unknown = checks_host.port(wanted, None, "stackyard", "ci", probe=lambda ip, port: "taken")
    assert not unknown.blocks and "did not say by whom" in unknown.detail
    known = checks_host.port(wanted, {}, "stackyard", "ci", probe=lambda ip, port: "taken")
    assert known.blocks
