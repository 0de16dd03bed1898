"""A re-run of `inv cluster` with changed config or secrets rolls the pods that read them, and a
changed Postgres password on an existing volume is refused plainly (issue 11, defect 6).
Only the run() seam is faked; renderings are real kustomize output."""

import base64
import json
from typing import Any

import pytest
import yaml

from tests.unit import test_cluster_orchestration as orchestration
from tooling import cluster, k8s, kind_secrets
from tooling.config import Secrets
from tooling.errors import StackyardError

fake = orchestration.fake
setup = orchestration.setup
READERS = {"Deployment/gateway", "Deployment/memory", "Deployment/orchestrator", "StatefulSet/postgres"}


def applied_workloads(runner: orchestration.FakeRun) -> dict[str, dict[str, Any]]:
    """The workloads of the last apply, by Kind/name."""
    last = [i for i in runner.inputs if i and b"kind: Deployment" in i][-1]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in yaml.safe_load_all(last)
            if o and o["kind"] in ("Deployment", "StatefulSet")}


def template_annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {})


def test_config_maps_carry_content_hashes_so_a_config_change_changes_the_pod_templates(setup: Any) -> None:
    root, cfg, _, plan, _ = setup
    before = k8s.render(root / k8s.ORCHESTRATION, "kind", cfg, plan)
    changed = cfg.model_copy(update={"log_level": "DEBUG" if cfg.log_level != "DEBUG" else "INFO"})
    after = k8s.render(root / k8s.ORCHESTRATION, "kind", changed, plan)
    names = [o["metadata"]["name"] for o in before.objects if o["kind"] == "ConfigMap"]
    assert names and all(n.rsplit("-", 1)[-1].isalnum() and n.count("-") >= 2 for n in names)  # name-hash
    gateway = [o for r in (before, after) for o in r.objects if o["metadata"]["name"] == "gateway"
               and o["kind"] == "Deployment"]
    assert gateway[0]["spec"]["template"] != gateway[1]["spec"]["template"]


def test_workloads_that_read_the_secret_carry_its_checksum_never_its_data(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    runner = fake()
    cluster.up(root, cfg, secrets, plan, tools=tools)
    workloads = applied_workloads(runner)
    annotated = {key for key, o in workloads.items() if kind_secrets.CHECKSUM_ANNOTATION in template_annotations(o)}
    assert annotated == READERS
    value = template_annotations(workloads["Deployment/gateway"])[kind_secrets.CHECKSUM_ANNOTATION]
    assert len(value) == 64 and secrets.postgres_password not in json.dumps(workloads)


def test_a_changed_secret_changes_the_checksum_and_an_unchanged_one_does_not(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    sums = []
    for secret in (secrets, secrets, Secrets(postgres_password=secrets.postgres_password, api_keys=("k2",))):
        runner = fake()
        cluster.up(root, cfg, secret, plan, tools=tools)
        sums.append(template_annotations(applied_workloads(runner)["Deployment/gateway"])
                    [kind_secrets.CHECKSUM_ANNOTATION])
    assert sums[0] == sums[1] != sums[2]


def reused_with_old_secret(fake: Any, setup: Any, *, pvc: bool) -> orchestration.FakeRun:
    root = setup[0]
    kubeconfig = root / ".stackyard/kind/stackyard/kubeconfig"
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    kubeconfig.write_text("apiVersion: v1\n")
    runner: orchestration.FakeRun = fake(clusters=["stackyard"])
    old = {"postgres-password": base64.b64encode(b"the-old-one").decode()}
    runner.objects[("secret", k8s.SECRET_NAME)] = {"kind": "Secret", "data": old}
    if pvc:
        runner.objects[("pvc", "data-postgres-0")] = {"kind": "PersistentVolumeClaim"}
    return runner


def test_a_changed_postgres_password_on_an_existing_volume_is_refused_before_anything_is_applied(
        fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    runner = reused_with_old_secret(fake, setup, pvc=True)
    with pytest.raises(StackyardError) as caught:
        cluster.up(root, cfg, secrets, plan, tools=tools)
    assert "Postgres password changed" in str(caught.value) and "data-postgres-0" in str(caught.value)
    assert "inv cluster.down` then `inv cluster`" in caught.value.hint and "\\password" in caught.value.hint
    assert not any("apply" in c or c[1:2] == ["load"] for c in runner.calls)
    assert not any(secrets.postgres_password in a for c in runner.calls for a in c)


def test_a_changed_postgres_password_without_a_volume_goes_ahead(fake: Any, setup: Any) -> None:
    root, cfg, secrets, plan, tools = setup
    runner = reused_with_old_secret(fake, setup, pvc=False)
    cluster.up(root, cfg, secrets, plan, tools=tools)
    assert any("apply" in c for c in runner.calls)
