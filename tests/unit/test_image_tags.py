"""Image naming: revision tags, dirty marks, content keys, never :latest."""

from pathlib import Path

from tooling import config, images

ROOT = Path(__file__).resolve().parents[2]


def test_clean_tree_is_tagged_with_the_revision() -> None:
    assert images.compute_tag("0123456789ab", {}) == "0123456789ab"


def test_dirty_tree_gets_a_mark_that_depends_on_the_content() -> None:
    one = images.compute_tag("abc", {"services/x.py": b"print(1)"})
    two = images.compute_tag("abc", {"services/x.py": b"print(2)"})
    gone = images.compute_tag("abc", {"services/x.py": None})
    assert one.startswith("abc-dirty-") and two.startswith("abc-dirty-")
    assert len({one, two, gone}) == 3
    assert images.compute_tag("abc", {"services/x.py": b"print(1)"}) == one  # stable


def test_no_revision_still_yields_a_specific_tag() -> None:
    assert images.compute_tag(None, {}) == "norev"
    assert images.compute_tag(None, {"a": b"x"}).startswith("norev-dirty-")


def test_plan_names_every_component_and_never_latest() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    for source in ("bootstrap", "upstream"):
        plan = images.make_plan(cfg, ROOT, source, tag="abc123")
        assert set(plan.services) == set(images.COMPONENTS)
        assert plan.services["gateway"] == "stackyard/gateway:abc123"
        assert all(":" in ref and not ref.endswith(":latest") for ref in plan.all())


def test_bootstrap_infra_tags_follow_their_dockerfiles() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    plan = images.make_plan(cfg, ROOT, "bootstrap", tag="t")
    assert plan.base.startswith("stackyard/base:bookworm-")
    assert plan.redis.startswith("stackyard/redis:deb-") and plan.postgres.startswith("stackyard/postgres:deb-")
    assert plan.redis != images.infra_ref(cfg, ROOT, "redis", "other/base:1")


def test_wheel_platforms_match_the_engine() -> None:
    assert "manylinux2014_x86_64" in images.wheel_platforms("x86_64")
    assert "manylinux2014_aarch64" in images.wheel_platforms("arm64")


def test_service_requirements_are_exact_pins() -> None:
    requirements = images.service_requirements(ROOT)
    assert requirements and all("==" in r for r in requirements)


def test_prune_keeps_the_current_revision_and_every_base_or_infra_image() -> None:
    present = ["stackyard/gateway:abc", "stackyard/gateway:old-dirty-1", "stackyard/worker:old",
               "stackyard/base:bookworm-1", "stackyard/redis:deb-2", "python:3.11-slim-bookworm",
               "other/gateway:old"]
    keep = ["stackyard/gateway:abc", "stackyard/worker:abc"]
    assert images.stale_refs(present, keep, "stackyard") == ["stackyard/gateway:old-dirty-1", "stackyard/worker:old"]
