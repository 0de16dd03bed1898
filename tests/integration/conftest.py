"""Real Postgres and Redis from the project's own images, and in-process services on real ports."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
import redis
from testcontainers.core.container import DockerContainer

from tooling.images import ImagePlan

PG_PASSWORD = "integration-only"


def _wait(what: str, probe: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except Exception as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready after {timeout}s: {error}") from error
            time.sleep(0.3)


@pytest.fixture(scope="session")
def postgres_url(infra_images: ImagePlan) -> Iterator[str]:
    container = (DockerContainer(infra_images.postgres)
                 .with_env("POSTGRES_USER", "stackyard").with_env("POSTGRES_DB", "stackyard")
                 .with_env("POSTGRES_PASSWORD", PG_PASSWORD).with_exposed_ports(5432))
    with container:
        url = (f"postgresql://stackyard:{PG_PASSWORD}@{container.get_container_host_ip()}:"
               f"{container.get_exposed_port(5432)}/stackyard")

        def probe() -> None:
            async def connect() -> None:
                connection = await asyncpg.connect(url, timeout=2)
                await connection.close()
            asyncio.run(connect())

        _wait("postgres", probe)
        yield url


@pytest.fixture(scope="session")
def redis_url(infra_images: ImagePlan) -> Iterator[str]:
    container = (DockerContainer(infra_images.redis)
                 .with_command("redis-server --appendonly yes --dir /data --protected-mode no")
                 .with_exposed_ports(6379))
    with container:
        url = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
        _wait("redis", lambda: redis.Redis.from_url(url).ping())
        yield url


@pytest.fixture
def streams() -> dict[str, str]:
    """Stream names unique to one test, so tests sharing a Redis never see each other's entries."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    return {
        "tasks_stream": f"{prefix}:tasks", "steps_stream": f"{prefix}:steps",
        "results_stream": f"{prefix}:results", "dead_letter_stream": f"{prefix}:dead",
    }
