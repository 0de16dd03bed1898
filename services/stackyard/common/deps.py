"""Connecting to Postgres and Redis: bounded, logged retries at startup instead of sleep loops."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Protocol, TypeVar

import asyncpg
import redis.asyncio as aioredis

from stackyard.common.logs import log


class TaskStoreSettings(Protocol):
    """What `connect_task_store` reads; the gateway's and orchestrator's settings have it all."""
    database_url: str
    database_pool_size: int
    redis_url: str
    startup_timeout_seconds: float

logger = logging.getLogger("stackyard.deps")
T = TypeVar("T")


async def retry(what: str, attempt: Callable[[], Awaitable[T]], timeout_seconds: float) -> T:
    deadline = time.monotonic() + timeout_seconds
    delay, tries = 0.2, 0
    while True:
        tries += 1
        try:
            return await attempt()
        except Exception as error:
            if time.monotonic() + delay > deadline:
                log(logger, logging.ERROR, f"gave up waiting for {what}", tries=tries, error=str(error))
                raise
            log(logger, logging.WARNING, f"waiting for {what}", tries=tries, error=str(error), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)


async def connect_postgres(url: str, size: int, timeout_seconds: float) -> asyncpg.Pool:
    async def attempt() -> asyncpg.Pool:
        return await asyncpg.create_pool(url, min_size=1, max_size=size, timeout=5, command_timeout=10)

    return await retry("postgres", attempt, timeout_seconds)


async def apply_schema(pool: asyncpg.Pool, name: str) -> None:
    """Apply an idempotent schema file; an advisory lock keeps concurrent starters apart."""
    sql = resources.files("stackyard").joinpath(name).read_text()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", name)
        await connection.execute(sql)


async def connect_task_store(settings: TaskStoreSettings) -> tuple[asyncpg.Pool, aioredis.Redis]:
    """Postgres with the tasks schema applied, and Redis: what the gateway and orchestrator share."""
    pool = await connect_postgres(settings.database_url, settings.database_pool_size,
                                  settings.startup_timeout_seconds)
    await apply_schema(pool, "schema_tasks.sql")
    return pool, await connect_redis(settings.redis_url, settings.startup_timeout_seconds)


async def connect_redis(url: str, timeout_seconds: float) -> aioredis.Redis:
    client = aioredis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=3)

    async def attempt() -> aioredis.Redis:
        await client.ping()
        return client

    return await retry("redis", attempt, timeout_seconds)
