"""Shared fixtures: the Docker engine (skip here, fail in CI) and the project's images."""

import os
from pathlib import Path

import pytest

# No registry here: Ryuk's image cannot be pulled. Containers are stopped by the fixtures instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from tooling import config, images  # noqa: E402
from tooling.cli import docker as docker_cli  # noqa: E402
from tooling.errors import StackyardError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def docker_required() -> bool:
    return os.environ.get("STACKYARD_REQUIRE_DOCKER") == "1"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    try:
        docker_cli.check_engine()
        docker_cli.check_compose()
    except StackyardError as error:
        if docker_required():
            pytest.fail(f"Docker is required here (STACKYARD_REQUIRE_DOCKER=1): {error}")
        pytest.skip(f"needs a Docker engine with compose v2: {error}")


@pytest.fixture(scope="session")
def ci_config() -> config.StackConfig:
    return config.load("ci", ROOT / "envs", environ={})


@pytest.fixture(scope="session")
def infra_images(docker_engine: None, ci_config: config.StackConfig) -> images.ImagePlan:
    """Base and infrastructure images only (Postgres, Redis): what in-process service tests need."""
    return images.ensure_images(ci_config, ROOT, services=False)


@pytest.fixture(scope="session")
def stack_images(docker_engine: None, ci_config: config.StackConfig) -> images.ImagePlan:
    """The project's own images for this tree, built (or bootstrapped) on first use."""
    return images.ensure_images(ci_config, ROOT)
