"""Images on the kind path (issue 11, defects 2, 5, 8, 9): load routes per image store, pulls that
may take minutes with progress, the add-ons' images, a preflight that only looks.

Only the run() seam is faked (tests/unit/test_cluster_orchestration.py FakeRun)."""

import time
from typing import Any

import pytest

from tests.unit import test_cluster_orchestration as orchestration
from tooling import cluster, k8s, kind_images
from tooling.cli import docker
from tooling.errors import CommandError, StackyardError

fake = orchestration.fake
setup = orchestration.setup
CONTAINERD_INFO = {"Driver": "overlayfs", "DriverStatus": [["driver-type", docker.CONTAINERD_SNAPSHOTTER]],
                   "Architecture": "aarch64", "OSType": "linux"}
IMAGE = "stackyard/gateway:abc123"


# --- defect 2: the containerd image store -------------------------------------------------------


def test_engine_facts_read_the_store_the_platform_and_whether_save_takes_a_platform(fake: Any) -> None:
    runner = fake()
    assert docker.engine_facts() == docker.EngineFacts(containerd_store=False, platform="linux/amd64",
                                                       save_platform=False)
    runner.info, runner.api = CONTAINERD_INFO, "1.48"
    assert docker.engine_facts() == docker.EngineFacts(containerd_store=True, platform="linux/arm64",
                                                       save_platform=True)
    runner.info = {}
    assert docker.engine_facts().containerd_store is False  # no answer: kind's own route


def test_containerd_store_saves_the_node_platform_only_then_loads_the_archive(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup
    runner = fake()
    runner.info, runner.api = CONTAINERD_INFO, "1.51"
    assert cluster.cluster_object(root, tools).load_docker_image(IMAGE) == "image-archive linux/arm64"
    save, load = runner.calls[-2:]
    assert save[:5] == ["docker", "save", "--platform", "linux/arm64", "--output"] and save[-1] == IMAGE
    assert load[:5] == [str(tools.kind), "load", "image-archive", "--name", "stackyard"] and load[-1] == save[5]
    assert not any(c[1:3] == ["load", "docker-image"] for c in runner.calls)  # the route #3795 breaks


def test_the_engine_is_asked_once_per_cluster_not_per_image(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup
    runner = fake()
    target = cluster.cluster_object(root, tools)
    for image in (IMAGE, "stackyard/worker:abc123"):
        assert target.load_docker_image(image) == "docker-image"
    assert sum(c[:2] == ["docker", "info"] for c in runner.calls) == 1


def test_containerd_store_without_save_platform_fails_naming_kind_3795_and_the_fix(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup

    def broken(argv: list[str]) -> CommandError | None:
        if argv[1:3] == ["load", "docker-image"]:
            return CommandError(argv, 1, "ERROR: failed to load image: ctr: content digest sha256:abc: not found")
        return None

    runner = fake(fail=broken)
    runner.info, runner.api = CONTAINERD_INFO, "1.47"  # Docker 27: no `docker save --platform`
    with pytest.raises(StackyardError) as caught:
        cluster.cluster_object(root, tools).load_docker_image(IMAGE)
    assert "kind #3795" in str(caught.value) and IMAGE in str(caught.value)
    assert "containerd-snapshotter" in caught.value.hint and "Docker" in caught.value.hint
    assert not any(c[1:2] == ["save"] for c in runner.calls)  # a plain save fails the same way: not tried


def test_classic_store_uses_kind_load_docker_image_only(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup
    runner = fake()
    assert cluster.cluster_object(root, tools).load_docker_image(IMAGE) == "docker-image"
    assert runner.calls[-1] == [str(tools.kind), "load", "docker-image", "--name", "stackyard", IMAGE]
    assert not any(c[1:2] == ["save"] for c in runner.calls)


# --- defects 5 and 9: the node image pull ---------------------------------------------------------


def missing_node_image(argv: list[str]) -> CommandError | None:
    if argv[:3] == ["docker", "image", "inspect"]:
        return CommandError(argv, 1, "Error: No such image")
    return None


def test_node_image_pull_allows_minutes_and_shows_progress(fake: Any, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert cluster.PULL_TIMEOUT >= 600  # was 120 s: a slow line was cut while layers arrived
    monkeypatch.setattr(kind_images, "PULL_HEARTBEAT", 0.01)
    runner = fake(fail=missing_node_image)
    original = runner.__call__

    def slow(argv: list[str], **kwargs: Any) -> str:
        if argv[:2] == ["docker", "pull"]:
            time.sleep(0.1)  # long enough for heartbeats
        return original(argv, **kwargs)

    monkeypatch.setattr(orchestration.seam, "run", slow)
    assert cluster.ensure_node_image() == "pulled"
    pull = runner.kwargs[runner.calls.index(["docker", "pull", cluster.NODE_IMAGE])]
    assert pull["timeout"] == cluster.PULL_TIMEOUT and pull["capture"] is False  # docker's layer progress shows
    err = capsys.readouterr().err
    assert f"▸ pulling {cluster.NODE_IMAGE}" in err and "up to 15 min" in err
    assert f"… pulling {cluster.NODE_IMAGE}" in err  # the heartbeat line
    assert f"✓ pulling {cluster.NODE_IMAGE}" in err


def test_preflight_without_pulling_reports_a_missing_node_image_and_never_pulls(
        fake: Any, setup: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _, _, _, tools = setup
    monkeypatch.setenv("STACKYARD_KIND", str(tools.kind))
    runner = fake(fail=missing_node_image)
    with pytest.raises(StackyardError) as caught:
        cluster.preflight(root, download=False, pull_node_image=False)
    assert str(caught.value).startswith(f"no Kubernetes node image can be had: {cluster.NODE_IMAGE}")
    assert "docker load" in caught.value.hint
    assert not any(c[:2] == ["docker", "pull"] for c in runner.calls)


def test_preflight_signature_is_the_one_the_kind_suite_calls() -> None:
    import inspect

    parameters = inspect.signature(cluster.preflight).parameters
    assert list(parameters) == ["root", "download", "pull_node_image"]
    assert parameters["pull_node_image"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["pull_node_image"].default is True


# --- defect 8: the add-ons' images -------------------------------------------------------------------


def test_addon_images_are_the_ones_the_addons_render() -> None:
    rendering = k8s.render_addons(orchestration.ROOT / k8s.ORCHESTRATION)
    used = {c["image"] for o in rendering.objects if o.get("kind") in ("Deployment", "StatefulSet")
            for c in o["spec"]["template"]["spec"]["containers"]}
    assert used == set(k8s.ADDON_IMAGES)


def test_missing_addon_images_are_pulled_with_progress_then_loaded(fake: Any, setup: Any,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root, cfg, secrets, plan, tools = setup
    absent = {"quay.io/prometheus/prometheus:v3.5.0"}
    runner = fake(fail=lambda argv: CommandError(argv, 1, "Error: No such image")
                  if argv[:3] == ["docker", "image", "inspect"] and argv[-1] in absent else None)
    cluster.up(root, cfg, secrets, plan, tools=tools)
    pulls = [c for c in runner.calls if c[:2] == ["docker", "pull"]]
    assert pulls == [["docker", "pull", *absent]]
    assert runner.kwargs[runner.calls.index(pulls[0])]["timeout"] == kind_images.ADDON_PULL_TIMEOUT
    loaded = [c[-1] for c in runner.calls if c[1:2] == ["load"]]
    assert set(k8s.ADDON_IMAGES) <= set(loaded)
    assert max(i for i, c in enumerate(runner.calls) if c[1:2] == ["load"]) < min(
        i for i, c in enumerate(runner.calls) if "apply" in c)  # in the nodes before the add-ons start
    assert "▸ pulling quay.io/prometheus/prometheus:v3.5.0 (add-on image" in capsys.readouterr().err


def test_a_second_run_with_every_image_local_pulls_nothing(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    first = fake()
    cluster.up(root, cfg, secrets, plan, tools=tools)
    second = fake(clusters=first.clusters)
    cluster.up(root, cfg, secrets, plan, tools=tools)
    assert not any(c[:2] == ["docker", "pull"] for c in [*first.calls, *second.calls])


def test_an_addon_image_that_cannot_be_pulled_is_named_with_the_network_needed_once(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup

    def offline(argv: list[str]) -> CommandError | None:
        if argv[:3] == ["docker", "image", "inspect"] and "metrics-server" in argv[-1]:
            return CommandError(argv, 1, "Error: No such image")
        if argv[:2] == ["docker", "pull"]:
            return CommandError(argv, 1, "")  # its output went to the terminal
        return None

    runner = fake(fail=offline)
    with pytest.raises(StackyardError) as caught:
        cluster.up(root, cfg, secrets, plan, tools=tools)
    assert "registry.k8s.io/metrics-server/metrics-server:v0.8.0" in str(caught.value)
    assert "docker's output is above" in str(caught.value)
    assert "network is needed once" in caught.value.hint
    assert not any(c[1:3] == ["create", "cluster"] for c in runner.calls)  # failed before the slow part


def test_pull_reason_prefers_what_docker_said() -> None:
    assert kind_images.reason(CommandError(["docker", "pull", "x"], 1, "a\nno such host\n")) == "no such host"
    assert kind_images.reason(CommandError(["docker", "pull", "x"], -1, "")).startswith("exit -1")
