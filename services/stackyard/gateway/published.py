"""Marking accepted tasks published: in batches, off the request path.

An accept's one Postgres round trip is the INSERT that commits the task. After its XADD the task's
id joins a batch, and one UPDATE every INTERVAL seconds marks the whole batch (one commit instead
of one per task). A batch that never reaches Postgres (the gateway killed, Postgres away) only
leaves published_at NULL: the orchestrator sets it when it takes the task, and the reconciler
republishes a task still unmarked after republish_after_seconds — duplicates are harmless, every
effect is idempotent. The drain flushes what is pending before the pool closes.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

import asyncpg

from stackyard.common.logs import log

INTERVAL = 0.05
logger = logging.getLogger("stackyard.gateway")


class PublishedMarks:
    def __init__(self, pool: Callable[[], asyncpg.Pool], interval: float = INTERVAL) -> None:
        self._pool, self._interval = pool, interval
        self._pending: list[uuid.UUID] = []
        self._loop: asyncio.Task[None] | None = None

    def add(self, task_id: uuid.UUID) -> None:
        self._pending.append(task_id)

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await self._pool().execute(
                "UPDATE tasks SET published_at = now() WHERE id = ANY($1::uuid[]) AND published_at IS NULL", batch)
        except Exception as error:  # the reconciler covers these tasks; the next batch tries again
            log(logger, logging.WARNING, "marking tasks published failed; the reconciler covers them",
                tasks=len(batch), error=str(error))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        await self.flush()
