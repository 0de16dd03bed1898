"""`inv up --watch` reuses service images whose runtime (base, dependencies, Dockerfile) matches."""

import shutil
from pathlib import Path

from tests.conftest import ROOT
from tooling import image_reuse

COMPONENTS = ("gateway", "model")


def test_the_newest_tag_that_every_component_has_is_chosen() -> None:
    refs = ["stackyard/model:new", "stackyard/gateway:mid", "stackyard/model:mid", "other/gateway:old",
            "stackyard/gateway:old", "stackyard/model:old"]
    assert image_reuse.newest_complete_tag(refs, "stackyard", COMPONENTS) == "mid"  # `new` lacks the gateway
    assert image_reuse.newest_complete_tag(refs[:2], "stackyard", COMPONENTS) is None


def test_the_runtime_key_follows_dependencies_and_dockerfile_not_code(tmp_path: Path) -> None:
    for relative in ("services/pyproject.toml", "deploy/docker/service.Dockerfile", "services/stackyard/__init__.py"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    key = image_reuse.runtime_key("base:1", tmp_path, "deploy/docker/service.Dockerfile")
    (tmp_path / "services/stackyard/__init__.py").write_text("# edited code\n")
    assert image_reuse.runtime_key("base:1", tmp_path, "deploy/docker/service.Dockerfile") == key
    assert image_reuse.runtime_key("base:2", tmp_path, "deploy/docker/service.Dockerfile") != key
    (tmp_path / "services/pyproject.toml").write_text("[project]\nname = 'changed'\n")
    assert image_reuse.runtime_key("base:1", tmp_path, "deploy/docker/service.Dockerfile") != key
