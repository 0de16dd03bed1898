"""`ensure_images` builds the service images beside the infrastructure images, not after them."""

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tooling import images


def test_service_and_infrastructure_builds_run_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    plan = images.ImagePlan("bootstrap", "t", "base:1", {"redis": "r:1", "postgres": "p:1"}, {"model": "m:t"})
    monkeypatch.setattr(images, "make_plan", lambda *a, **k: plan)
    monkeypatch.setattr(images, "resolve_source", lambda *a, **k: "bootstrap")
    monkeypatch.setattr(images, "ensure_base", lambda *a, **k: None)
    both_running = threading.Barrier(2, timeout=5)  # broken (an error) if the two never overlap
    built: list[str] = []

    def services(*args: Any) -> None:
        both_running.wait()
        built.append("services")

    def infra(plan: images.ImagePlan, root: Path, names: tuple[str, ...], rebuild: bool = False) -> None:
        if names == ("redis",):
            both_running.wait()
        built.append(names[0])

    monkeypatch.setattr(images, "_ensure_services", services)
    monkeypatch.setattr(images, "ensure_infra", infra)
    assert images.ensure_images(None, Path("."), infra=("redis", "postgres")) is plan  # type: ignore[arg-type]
    assert sorted(built) == ["postgres", "redis", "services"]


def test_a_failed_build_is_raised_after_the_others_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = images.ImagePlan("bootstrap", "t", "base:1", {"redis": "r:1"}, {"model": "m:t"})
    monkeypatch.setattr(images, "make_plan", lambda *a, **k: plan)
    monkeypatch.setattr(images, "resolve_source", lambda *a, **k: "bootstrap")
    monkeypatch.setattr(images, "ensure_base", lambda *a, **k: None)
    finished: list[str] = []

    def services(*args: Any) -> None:
        raise images.StackyardError("build failed")

    monkeypatch.setattr(images, "_ensure_services", services)
    monkeypatch.setattr(images, "ensure_infra", lambda *a, **k: finished.append("redis"))
    with pytest.raises(images.StackyardError, match="build failed"):
        images.ensure_images(None, Path("."), infra=("redis",))  # type: ignore[arg-type]
    assert finished == ["redis"]
