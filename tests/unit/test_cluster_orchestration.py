"""`inv cluster` orchestration at its one CLI seam: run() is faked, everything else is real.

The fake records every argv and answers like kind/kubectl/docker would; the tests assert the
commands, their order, the reuse of an existing cluster and that a second `up` changes nothing.
"""

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tooling import cluster, config, images, k8s, kind_install
from tooling.cli import run as seam
from tooling.errors import CommandError, StackyardError

ROOT = Path(__file__).resolve().parents[2]
KIND = "/opt/kind"
READY_HPAS = {"items": [
    {"metadata": {"name": name}, "spec": {"metrics": [{}], "minReplicas": 1, "maxReplicas": 3},
     "status": {"currentMetrics": [{"type": "Resource",
                                    "resource": {"name": "cpu", "current": {"averageUtilization": 4}}}],
                "conditions": [{"type": "ScalingActive", "status": "True"}],
                "currentReplicas": 1, "desiredReplicas": 1}}
    for name in ("gateway", "memory", "model", "worker")]}


REAL_RUN = seam.run
# What `docker info --format '{{json .}}'` says on an engine with the classic image store.
CLASSIC_INFO = {"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
                "Architecture": "x86_64", "OSType": "linux"}


def kind_node(name: str, role: str, image: str, bindings: dict[str, list[dict[str, str]]] | None = None
              ) -> dict[str, Any]:
    """A node container as `docker inspect` shows one that kind v0.32 made (the fields read)."""
    return {"Name": f"/{name}", "State": {"Running": True},
            "Config": {"Image": image, "Labels": {"io.x-k8s.kind.cluster": "stackyard", "io.x-k8s.kind.role": role}},
            "HostConfig": {"PortBindings": bindings or {}}}


def matching_nodes() -> list[dict[str, Any]]:
    """The nodes `kind create cluster --config deploy/orchestration/kind/cluster.yaml` makes."""
    ports = {"6443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "41234"}],
             "30080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "30080"}],
             "30090/tcp": [{"HostIp": "127.0.0.1", "HostPort": "30090"}]}
    return [kind_node("stackyard-control-plane", "control-plane", cluster.NODE_IMAGE, ports),
            kind_node("stackyard-worker", "worker", cluster.NODE_IMAGE)]


class FakeRun:
    """Stands in for tooling.cli.run.run; `clusters` is what `kind get clusters` lists.

    `kubectl kustomize` is offline and pure: it goes to the real run(), so the manifests applied
    are the real renderings. `info`/`api` are the engine's `docker info` and negotiated API
    version, `nodes` the node containers, `server` the API server's version and `objects` what
    `kubectl get KIND NAME` finds ({("secret", "stackyard-secrets"): {...}})."""

    def __init__(self, clusters: list[str], fail: Callable[[list[str]], CommandError | None] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.inputs: list[bytes | None] = []
        self.kwargs: list[dict[str, Any]] = []
        self.clusters = clusters
        self.fail = fail
        self.info: dict[str, Any] = dict(CLASSIC_INFO)
        self.api = "1.41"
        self.nodes = matching_nodes()
        self.server = "v" + k8s.K8S_VERSION
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, argv: list[str], *, input: bytes | None = None, **kwargs: Any) -> str:
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        self.inputs.append(input)
        self.kwargs.append(kwargs)
        if self.fail and (error := self.fail(argv)):
            raise error
        if argv[1:2] == ["kustomize"]:
            return REAL_RUN(argv)
        if argv[1:3] == ["get", "clusters"]:
            return "\n".join(self.clusters)
        if argv[:2] == ["docker", "info"]:
            return json.dumps(self.info)
        if argv[:2] == ["docker", "version"] and "{{.Client.APIVersion}}" in argv:
            return self.api + "\n"
        if argv[1:3] == ["get", "nodes"]:
            return "\n".join(str(n["Name"]).lstrip("/") for n in self.nodes)
        if argv[:4] == ["docker", "inspect", "--type", "container"]:
            return json.dumps([n for n in self.nodes if str(n["Name"]).lstrip("/") in argv[4:]])
        if "version" in argv and "-o" in argv and Path(argv[0]).name == "kubectl":
            return json.dumps({"clientVersion": {"gitVersion": "v1.37.0"},
                               "serverVersion": {"gitVersion": self.server}})
        if "get" in argv and "--ignore-not-found" in argv:
            kind, name = argv[argv.index("get") + 1:argv.index("get") + 3]
            found = self.objects.get((kind, name))
            return json.dumps(found) if found else ""
        if argv[1:3] == ["create", "cluster"] or argv[1:3] == ["export", "kubeconfig"]:
            # kind writes the kubeconfig it is given
            Path(argv[4].removeprefix("--kubeconfig=")).write_text("apiVersion: v1\n")
        if argv[1:3] == ["create", "cluster"]:
            self.clusters.append(argv[3].removeprefix("--name="))
        if "get" in argv and "hpa" in argv:
            return json.dumps(READY_HPAS)
        if "get" in argv and "deployments,statefulsets" in argv:
            return json.dumps({"items": []})
        return ""

    def commands(self) -> list[str]:
        """argv as short words: the binary's basename and the verb(s) that matter."""
        short = []
        for argv in self.calls:
            tool = Path(argv[0]).name
            words = [a for a in argv[1:] if not a.startswith("-") and "/" not in a and "=" not in a][:2]
            short.append(" ".join([tool, *words]))
        return short


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeRun]:
    def install(clusters: list[str] | None = None, fail: Callable[[list[str]], CommandError | None] | None = None
                ) -> FakeRun:
        runner = FakeRun(list(clusters or []), fail)
        monkeypatch.setattr(seam, "run", runner)  # every adapter calls seam.run: one patch fakes them all
        return runner
    return install


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, config.StackConfig, config.Secrets,
                                                                   images.ImagePlan, cluster.Tools]:
    monkeypatch.chdir(tmp_path)  # pytest-kind touches the working directory; keep it out of the repo
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "orchestration").symlink_to(ROOT / k8s.ORCHESTRATION)
    (root / "deploy" / "monitoring").symlink_to(ROOT / "deploy" / "monitoring")  # the add-ons' components
    (root / "deploy" / "docker").symlink_to(ROOT / "deploy" / "docker")
    cfg = config.load("kind", ROOT / "envs", environ={})
    secrets = config.Secrets(postgres_password="s3cret-never-in-argv", api_keys=("k1",))
    plan = images.make_plan(cfg, ROOT, "upstream", tag="abc123")
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("")
    kind = tmp_path / "kind"
    kind.write_text("")
    return root, cfg, secrets, plan, cluster.Tools(kind, kubectl)


def test_up_creates_the_cluster_then_loads_installs_applies_and_waits_in_order(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    runner = fake()
    cluster.up(root, cfg, secrets, plan, tools=tools)
    create = next(c for c in runner.calls if c[1:3] == ["create", "cluster"])
    assert create == [str(tools.kind), "create", "cluster", "--name=stackyard",
                      f"--kubeconfig={root / '.stackyard/kind/stackyard/kubeconfig'}", f"--image={cluster.NODE_IMAGE}",
                      "--config", str(root / cluster.CLUSTER_CONFIG), "--wait=120s"]
    commands = runner.commands()
    loads = [c for c in runner.calls if c[1:3] == ["load", "docker-image"]]
    # the stack's images, then the add-ons' (defect 8 of issue 11: they were never loaded)
    assert [c[-1] for c in loads] == [*sorted(k8s.plan_images(plan)), *sorted(k8s.ADDON_IMAGES)]
    applies = [i for i, c in enumerate(runner.calls) if "apply" in c]
    rollouts = [i for i, c in enumerate(runner.calls) if "rollout" in c]
    first_load = commands.index("kind load docker-image")
    assert commands[:4] == ["docker image inspect"] * 4  # the add-on images are local (kind_images)
    assert commands[4:6] == ["kind get clusters", "kind create cluster"]
    assert first_load < applies[0] < rollouts[0]  # images before the add-ons, add-ons before their rollouts
    assert len(applies) == 3  # add-ons; namespace + secret; the overlay
    assert [runner.calls[i][-1] for i in rollouts[:4]] == ["--timeout=300s"] * 4
    assert [runner.calls[i][runner.calls[i].index("status") + 1] for i in rollouts[:4]] == [
        "deployment/metrics-server", "deployment/prometheus", "deployment/alertmanager",
        "deployment/prometheus-adapter"]
    stack_rollouts = {runner.calls[i][runner.calls[i].index("status") + 1] for i in rollouts[4:]}
    expected = {f"deployment/{c}" for c in k8s.APP_COMPONENTS} | {"statefulset/redis", "statefulset/postgres"}
    assert stack_rollouts == expected
    assert applies[2] < rollouts[4]
    assert any("top" in c for c in runner.calls[rollouts[-1]:])
    rendering = [c for c in runner.calls if c[1] == "kustomize"]
    assert len(rendering) == 2  # add-ons and the kind overlay, rendered for real
    assert all(c[0] in (str(tools.kind), str(tools.kubectl), "docker") for c in runner.calls if c not in rendering)
    # docker only looks (image present? which image store?) while a new cluster is made from local images
    assert {tuple(c[:2]) for c in runner.calls if c[0] == "docker"} == {
        ("docker", "image"), ("docker", "info"), ("docker", "version")}


def test_secret_goes_through_stdin_never_argv(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    runner = fake()
    cluster.up(root, cfg, secrets, plan, tools=tools)
    assert not any("s3cret-never-in-argv" in a for c in runner.calls for a in c)
    stdin = b"".join(i for i in runner.inputs if i)
    assert b"kind: Secret" in stdin and b"postgres-password" in stdin
    apply = next(c for c in runner.calls if "apply" in c)
    assert apply[-5:] == ["--server-side", "--force-conflicts", "--field-manager=stackyard", "-f", "-"]


def test_an_existing_cluster_is_reused_not_recreated(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    kubeconfig = root / ".stackyard/kind/stackyard/kubeconfig"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text("apiVersion: v1\n")
    runner = fake(clusters=["other", "stackyard"])
    cluster.up(root, cfg, secrets, plan, tools=tools)
    assert not any(c[1:3] == ["create", "cluster"] for c in runner.calls)
    assert not any("export" in c for c in runner.calls)


def test_an_existing_cluster_without_our_kubeconfig_gets_it_exported(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    runner = fake(clusters=["stackyard"])
    cluster.up(root, cfg, secrets, plan, tools=tools)
    kind_calls = [c for c in runner.calls if c[0] == str(tools.kind)]
    assert kind_calls[1] == [str(tools.kind), "export", "kubeconfig", "--name=stackyard",
                             f"--kubeconfig={root / '.stackyard/kind/stackyard/kubeconfig'}"]


def test_up_is_idempotent(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    first = fake()
    cluster.up(root, cfg, secrets, plan, tools=tools)
    second = fake(clusters=first.clusters)
    cluster.up(root, cfg, secrets, plan, tools=tools)

    def normal(calls: list[list[str]]) -> list[list[str]]:  # kustomize renders in a fresh temporary directory
        return [[re.sub(r"stackyard-render-\w+", "stackyard-render-X", a) for a in c] for c in calls]

    def changes(runner: FakeRun) -> list[int]:  # what is not a look: reuse checks only read
        reads = (["get", "nodes"], ["inspect", "--type"], ["version", "-o"])
        return [i for i, c in enumerate(runner.calls) if c[1:3] != ["create", "cluster"]
                and c[1:3] not in reads and c[3:5] != ["version", "-o"] and "--ignore-not-found" not in c]

    kept, again = changes(first), changes(second)
    assert normal([second.calls[i] for i in again]) == normal([first.calls[i] for i in kept])
    assert [second.inputs[i] for i in again] == [first.inputs[i] for i in kept]  # byte-identical manifests again


def test_other_load_failures_are_not_papered_over(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    fake(fail=lambda argv: CommandError(argv, 1, "image not present locally") if "load" in argv else None)
    with pytest.raises(CommandError, match="not present"):
        cluster.cluster_object(root, tools).load_docker_image("stackyard/gateway:abc123")


def test_down_deletes_only_an_existing_cluster(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup
    runner = fake(clusters=[])
    assert cluster.down(root, tools) is False
    assert runner.commands() == ["kind get clusters"]
    runner = fake(clusters=["stackyard"])
    assert cluster.down(root, tools) is True
    assert runner.calls[-1][:4] == [str(tools.kind), "delete", "cluster", "--name=stackyard"]


def test_status_of_a_missing_cluster_says_how_to_create_it(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup
    fake(clusters=[])
    result = cluster.status(root, tools)
    assert result.exists is False
    assert "inv cluster" in cluster.table(result)


def test_preflight_without_a_node_image_fails_fast_naming_it(fake: Any, setup: Any, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    root, _, _, _, tools = setup
    monkeypatch.setenv("STACKYARD_KIND", str(tools.kind))

    def no_registry(argv: list[str]) -> CommandError | None:
        if argv[:3] == ["docker", "image", "inspect"]:
            return CommandError(argv, 1, "Error: No such image")
        if argv[:2] == ["docker", "pull"]:
            return CommandError(argv, 1, 'Error response from daemon: Get "https://registry-1.docker.io/v2/": '
                                         "no such host")
        return None

    runner = fake(fail=no_registry)
    with pytest.raises(StackyardError) as caught:
        cluster.preflight(root, download=False)
    message = str(caught.value)
    assert message.startswith(f"no Kubernetes node image can be had: `docker pull {cluster.NODE_IMAGE}` failed")
    assert "no such host" in message and "docker load" in message
    assert [c[:2] for c in runner.calls] == [["docker", "version"], ["docker", "image"], ["docker", "pull"]]
    # not --quiet: docker's layer progress goes to the terminal (tests/unit/test_kind_pulls.py)
    assert runner.calls[2] == ["docker", "pull", cluster.NODE_IMAGE]


def test_preflight_names_a_missing_kind_with_how_to_get_it(fake: Any, setup: Any, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    root, _, _, _, _ = setup
    monkeypatch.delenv("STACKYARD_KIND", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    fake(fail=lambda argv: CommandError(argv, 127, "kind: not found") if Path(argv[0]).name == "kind" else None)
    with pytest.raises(StackyardError) as caught:
        cluster.preflight(root, download=False)
    assert f"kind {kind_install.KIND_VERSION} is not installed" in str(caught.value)
    assert "kind.sigs.k8s.io" in caught.value.hint


# --- kind download: pinned checksum, from a local file:// URL (no network) ---------------------


def test_kind_download_checks_the_pinned_checksum(tmp_path: Path) -> None:
    release = tmp_path / "kind-linux-amd64"
    release.write_bytes(b"#!/bin/sh\necho kind v0.32.0\n")
    good = hashlib.sha256(release.read_bytes()).hexdigest()
    target = tmp_path / "bin" / "kind"
    assert kind_install.download_kind(target, url=release.as_uri(), expected=good) == target
    assert target.stat().st_mode & 0o111
    with pytest.raises(StackyardError, match=re.escape(f"not the pinned {'0' * 64}")):
        kind_install.download_kind(tmp_path / "bin" / "other", url=release.as_uri(), expected="0" * 64)
    assert not (tmp_path / "bin" / "other").exists() and not (tmp_path / "bin" / "other.partial").exists()


def test_kind_download_failure_names_the_url_and_the_manual_route(tmp_path: Path) -> None:
    with pytest.raises(StackyardError) as caught:
        kind_install.download_kind(tmp_path / "kind", url=(tmp_path / "missing").as_uri(), expected="0" * 64)
    assert "could not be downloaded from file://" in str(caught.value)
    assert "STACKYARD_KIND" in caught.value.hint


def test_pins_cover_the_usual_platforms_and_match_the_validated_version() -> None:
    assert set(kind_install.KIND_SHA256) == {"linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in kind_install.KIND_SHA256.values())
    assert re.fullmatch(r"kindest/node:v[\d.]+@sha256:[0-9a-f]{64}", cluster.NODE_IMAGE)
    assert cluster.NODE_IMAGE.startswith(f"kindest/node:v{k8s.K8S_VERSION}@")
    assert kind_install.platform_key("Linux", "x86_64") == "linux-amd64"
    assert kind_install.platform_key("Darwin", "arm64") == "darwin-arm64"


def test_hpa_waiting_lists_autoscalers_without_metrics() -> None:
    pending = json.loads(json.dumps(READY_HPAS))
    pending["items"][3]["status"] = {"conditions": [{"type": "ScalingActive", "status": "False"}]}
    assert cluster.hpa_waiting(READY_HPAS) == []
    assert cluster.hpa_waiting(pending) == ["worker"]


def test_preflight_on_this_machine_fails_in_seconds_or_skips_where_kind_can_start() -> None:
    """The real thing, no fake: on a machine without kind or a registry it must fail fast."""
    import time

    started = time.monotonic()
    try:
        # pull_node_image=False: where Docker Hub is reachable a real pull would take minutes
        cluster.preflight(ROOT, download=False, pull_node_image=False)
    except StackyardError as error:
        assert time.monotonic() - started < 30
        assert any(s in str(error) for s in ("node image", "kind v0.32.0", "Docker", "docker")), str(error)
        return
    pytest.skip("kind, Docker and the node image are all here: nothing is missing to report")
