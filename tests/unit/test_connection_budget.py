"""The Postgres connection budget: every pool × max replicas, summed, within max_connections − reserve.

Seeded mistakes are text edits in a copy of deploy/orchestration, rendered by real kustomize like the
original (as in test_k8s_validate.py); compose is checked by calling the budget function directly.
"""

import shutil
from pathlib import Path

import pytest
import yaml

from tooling import compose, compose_env, config, images, k8s
from tooling.config import ConfigError
from tooling.errors import StackyardError

ROOT = Path(__file__).resolve().parents[2]
TAG = "0123abc"
KIND_HPAS = "overlays/kind/kustomization.yaml"


def _config(stage: str, **environ: str) -> config.StackConfig:
    return config.load(stage, ROOT / "envs", environ=environ)


def _render(tree: Path, overlay: str = "kind") -> tuple[k8s.Rendering, config.StackConfig]:
    cfg = _config(overlay)
    return k8s.render(tree, overlay, cfg, images.make_plan(cfg, ROOT, "upstream", tag=TAG)), cfg


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / k8s.ORCHESTRATION
    shutil.copytree(ROOT / k8s.ORCHESTRATION, copy)
    return copy


def seed(tree: Path, relative: str, old: str, new: str) -> None:
    path = tree / relative
    text = path.read_text()
    assert text.count(old) == 1, f"seed text not unique in {relative}: {old!r}"
    path.write_text(text.replace(old, new))


def problems(tree: Path) -> list[str]:
    rendering, cfg = _render(tree)
    return [str(p) for p in k8s.budget_problems(rendering, cfg)]


def test_the_postgres_clients_are_the_components_with_a_pool() -> None:
    assert k8s.postgres_components() == ("gateway", "orchestrator", "memory")


@pytest.mark.parametrize(("overlay", "uses", "total"), [
    ("kind", [("gateway", 10, 3), ("orchestrator", 10, 1), ("memory", 10, 3)], 70),
    ("staging", [("gateway", 10, 5), ("orchestrator", 10, 1), ("memory", 10, 5)], 110),
    ("production", [("gateway", 10, 10), ("orchestrator", 10, 2), ("memory", 10, 10)], 220),
])
def test_every_real_overlay_fits_the_budget(overlay: str, uses: list[tuple[str, int, int]], total: int) -> None:
    rendering, cfg = _render(ROOT / k8s.ORCHESTRATION, overlay)
    found = k8s.rendered_uses(rendering)
    assert [(u.component, u.pool, u.replicas) for u in found] == uses
    assert sum(u.connections for u in found) == total <= k8s.budget(cfg) == 240
    assert k8s.budget_problems(rendering, cfg) == []


def test_the_unseeded_copy_is_clean(tree: Path) -> None:
    assert problems(tree) == []


def test_gateway_hpa_max_beyond_the_budget_is_named_with_the_sum_and_the_fix(tree: Path) -> None:
    seed(tree, KIND_HPAS, "  - target: {kind: HorizontalPodAutoscaler, name: gateway|memory}\n",
         "  - target: {kind: HorizontalPodAutoscaler, name: gateway}\n    patch: |-\n"
         "      - {op: replace, path: /spec/maxReplicas, value: 50}\n"
         "  - target: {kind: HorizontalPodAutoscaler, name: memory}\n")
    assert problems(tree) == [
        "[budget] overlay kind: Postgres connections (pool × max replicas): gateway 10 × 50 + orchestrator 10 × 1 "
        "+ memory 10 × 3 = 540, over the budget of 240 (postgres.max_connections 250 − postgres.reserve 10): "
        "lower maxReplicas, lower the pool (STACKYARD_DATABASE_POOL_SIZE), or raise postgres.max_connections "
        "in envs/"]


def test_inv_k8s_validate_fails_on_the_seeded_overlay(tree: Path) -> None:
    seed(tree, KIND_HPAS, "  - target: {kind: HorizontalPodAutoscaler, name: gateway|memory}\n",
         "  - target: {kind: HorizontalPodAutoscaler, name: gateway}\n    patch: |-\n"
         "      - {op: replace, path: /spec/maxReplicas, value: 50}\n"
         "  - target: {kind: HorizontalPodAutoscaler, name: memory}\n")
    shutil.copytree(ROOT / "deploy" / "monitoring", tree.parent / "monitoring")  # the add-ons load them
    cfg = _config("kind")
    report = k8s.validate(tree, {"kind": cfg}, {"kind": images.make_plan(cfg, ROOT, "upstream", tag=TAG)},
                          checkov=False, overlays=["kind"])
    assert not report.ok
    assert [(p.check, p.source) for p in report.problems] == [("budget", "overlay kind")]
    assert "gateway 10 × 50" in report.problems[0].message


def test_a_pool_set_in_the_rendered_environment_counts(tree: Path) -> None:
    seed(tree, "base/kustomization.yaml", "      - STACKYARD_MEMORY_URL=http://memory:8000\n"
                                          "      - STACKYARD_DRAIN_SECONDS=10\n",
         "      - STACKYARD_MEMORY_URL=http://memory:8000\n      - STACKYARD_DATABASE_POOL_SIZE=70\n"
         "      - STACKYARD_DRAIN_SECONDS=10\n")
    assert problems(tree) == [
        "[budget] overlay kind: Postgres connections (pool × max replicas): gateway 70 × 3 + orchestrator 10 × 1 "
        "+ memory 10 × 3 = 250, over the budget of 240 (postgres.max_connections 250 − postgres.reserve 10): "
        "lower maxReplicas, lower the pool (STACKYARD_DATABASE_POOL_SIZE), or raise postgres.max_connections "
        "in envs/"]


def test_the_worker_holds_no_pool_so_its_hpa_max_costs_no_connection(tree: Path) -> None:
    seed(tree, KIND_HPAS, "      - {op: replace, path: /spec/maxReplicas, value: 4}\n"
                          "      - {op: replace, path: /spec/metrics/0/object/target/averageValue",
         "      - {op: replace, path: /spec/maxReplicas, value: 64}\n"
         "      - {op: replace, path: /spec/metrics/0/object/target/averageValue")
    assert problems(tree) == []


def test_without_an_hpa_spec_replicas_is_the_maximum(tree: Path) -> None:
    seed(tree, "base/orchestrator.yaml", "  replicas: 1\n", "  replicas: 18\n")
    assert problems(tree) == []  # 30 + 180 + 30 = 240: exactly the budget fits
    seed(tree, "base/orchestrator.yaml", "  replicas: 18\n", "  replicas: 19\n")
    assert problems(tree) == [
        "[budget] overlay kind: Postgres connections (pool × max replicas): gateway 10 × 3 + orchestrator 10 × 19 "
        "+ memory 10 × 3 = 250, over the budget of 240 (postgres.max_connections 250 − postgres.reserve 10): "
        "lower maxReplicas, lower the pool (STACKYARD_DATABASE_POOL_SIZE), or raise postgres.max_connections "
        "in envs/"]


def test_postgres_runs_with_the_configs_max_connections_on_every_target() -> None:
    rendering, cfg = _render(ROOT / k8s.ORCHESTRATION, "production")
    postgres = next(o for o in rendering.objects if o["kind"] == "StatefulSet")
    assert postgres["spec"]["template"]["spec"]["containers"][0]["args"] == ["-c", "max_connections=250"]
    assert compose_env.project_env(cfg, images.make_plan(cfg, ROOT, "upstream", tag=TAG))[
        "STACKYARD_POSTGRES_MAX_CONNECTIONS"] == "250"
    service = yaml.safe_load((ROOT / compose.COMPOSE_FILE).read_text())["services"]["postgres"]
    assert service["command"] == ["-c", "max_connections=${STACKYARD_POSTGRES_MAX_CONNECTIONS:?rendered by inv up}"]


def test_postgres_args_patched_away_are_reported() -> None:
    rendering, cfg = _render(ROOT / k8s.ORCHESTRATION, "kind")
    changed = k8s.copy_objects(rendering)
    postgres = next(o for o in changed.objects if o["kind"] == "StatefulSet")
    del postgres["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [str(p) for p in k8s.budget_problems(changed, cfg)] == [
        "[budget] overlay kind: StatefulSet/postgres: postgres runs with max_connections=its default (100), but "
        "envs/ says postgres.max_connections 250: render through `inv k8s.render` and patch nothing over the "
        "postgres args"]


def test_a_reserve_that_leaves_no_room_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="postgres.reserve"):
        _config("dev", STACKYARD__POSTGRES__RESERVE="250")


# --- compose: `inv up --scale` -----------------------------------------------------------------


def test_compose_scale_within_the_budget_passes() -> None:
    dev = _config("dev")
    k8s.check_scale(dev, {"worker": 30, "gateway": 22})  # 220 + 10 + 10 = 240: the worker holds no pool


def test_compose_scale_beyond_the_budget_is_refused_with_the_same_message_shape() -> None:
    dev = _config("dev")
    with pytest.raises(StackyardError) as error:
        k8s.check_scale(dev, {"worker": dev.worker.replicas, "gateway": 24})
    assert error.value.message == (
        "--scale breaks the connection budget: Postgres connections (pool × max replicas): gateway 10 × 24 + "
        "orchestrator 10 × 1 + memory 10 × 1 = 260, over the budget of 240 (postgres.max_connections 250 − "
        "postgres.reserve 10)")
    assert error.value.hint == ("lower the --scale, lower the pool (STACKYARD_DATABASE_POOL_SIZE), or raise "
                                "postgres.max_connections in envs/")


def test_raising_max_connections_in_config_raises_the_compose_budget() -> None:
    roomy = _config("dev", STACKYARD__POSTGRES__MAX_CONNECTIONS="400")
    k8s.check_scale(roomy, {"gateway": 30})  # 300 + 20 = 320 ≤ 390
