"""An existing cluster named stackyard is reused only when it matches deploy/orchestration/kind/cluster.yaml
and the pinned node image (issue 11, defect 7). Only the run() seam is faked."""

from typing import Any

import pytest

from tests.unit import test_cluster_orchestration as orchestration
from tooling import cluster, kind_reuse
from tooling.errors import StackyardError

fake = orchestration.fake
setup = orchestration.setup


def existing(setup: Any) -> None:
    root = setup[0]
    kubeconfig = root / ".stackyard/kind/stackyard/kubeconfig"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.write_text("apiVersion: v1\n")


def test_the_expected_shape_is_read_from_the_kind_config_not_repeated() -> None:
    roles, bindings = kind_reuse.expected(orchestration.ROOT / cluster.CLUSTER_CONFIG)
    assert roles == {"control-plane": 1, "worker": 1}
    assert bindings == {"control-plane": {("30080/tcp", "127.0.0.1", "30080"), ("30090/tcp", "127.0.0.1", "30090")}}


def test_a_matching_cluster_is_reused(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    existing(setup)
    runner = fake(clusters=["stackyard"])
    cluster.up(root, cfg, secrets, plan, tools=tools)
    assert not any(c[1:3] == ["create", "cluster"] for c in runner.calls)
    assert [str(tools.kind), "get", "nodes", "--name=stackyard"] in runner.calls
    assert ["docker", "inspect", "--type", "container", "stackyard-control-plane", "stackyard-worker"] in runner.calls
    assert any("apply" in c for c in runner.calls)


@pytest.mark.parametrize(("change", "said"), [
    (lambda r: r.nodes[0]["HostConfig"]["PortBindings"].update(
        {"30080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "30080"}]}),
     "control-plane port mappings missing: 127.0.0.1:30080→30080/tcp (it has 0.0.0.0:30080→30080/tcp)"),
    (lambda r: r.nodes[0]["HostConfig"]["PortBindings"].clear(), "127.0.0.1:30090→30090/tcp"),
    (lambda r: [n["Config"].update(Image="kindest/node:v1.31.0") for n in r.nodes],
     "node image: kindest/node:v1.31.0, pinned: kindest/node:v1.36.1@sha256:"),
    (lambda r: setattr(r, "server", "v1.31.0"), "Kubernetes v1.31.0, pinned: v1.36.1"),
    (lambda r: r.nodes.pop(), "nodes: {'control-plane': 1}, the config has {'control-plane': 1, 'worker': 1}"),
    (lambda r: r.nodes[1]["State"].update(Running=False), "nodes not running: stackyard-worker"),
])
def test_a_cluster_that_differs_fails_saying_what_and_how_to_recreate(fake: Any, setup: Any, change: Any,
                                                                       said: str) -> None:
    root, cfg, secrets, plan, tools = setup
    existing(setup)
    runner = fake(clusters=["stackyard"])
    change(runner)
    with pytest.raises(StackyardError) as caught:
        cluster.up(root, cfg, secrets, plan, tools=tools)
    assert said in str(caught.value)
    assert "deploy/orchestration/kind/cluster.yaml" in str(caught.value)
    assert "inv cluster.down && inv cluster" in caught.value.hint
    assert not any(c[1:2] == ["load"] or "apply" in c for c in runner.calls)  # nothing done to it


def test_an_api_server_that_does_not_answer_is_a_difference(fake: Any, setup: Any) -> None:
    root, _, _, _, tools = setup
    existing(setup)
    runner = fake(clusters=["stackyard"],
                  fail=lambda argv: orchestration.CommandError(argv, 1, "connection refused")
                  if "version" in argv and "-o" in argv else None)
    assert runner is not None
    found = kind_reuse.differences(cluster.cluster_object(root, tools), root / cluster.CLUSTER_CONFIG,
                                   cluster.NODE_IMAGE)
    assert found == ["Kubernetes (the API server does not answer), pinned: v1.36.1"]
