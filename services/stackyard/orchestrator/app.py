"""The orchestrator consumes two streams and owns every state change of tasks and steps.

- tasks stream: a committed task → its step rows (idempotent) → step messages for workers.
- results stream: a worker's step outcome → step row → task row (completed/failed).
A reconciler republishes tasks that were committed but whose publish never happened.
All writes are guarded by the current status, so a redelivered message changes nothing twice.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as aioredis
from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram

from stackyard.common.deps import apply_schema, connect_postgres, connect_redis
from stackyard.common.http import create_app
from stackyard.common.logs import log
from stackyard.common.settings import OrchestratorSettings as Settings
from stackyard.common.streams import Fields, StreamConsumer

logger = logging.getLogger("stackyard.orchestrator")
GROUP = "orchestrator"

TASKS_FINISHED = Counter("stackyard_tasks_finished_total", "Tasks that reached a final state", ["status"])
TASK_DURATION = Histogram(
    "stackyard_task_duration_seconds", "Time from acceptance to a final state",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
REPUBLISHED = Counter("stackyard_tasks_republished_total", "Tasks republished by the reconciler")
BACKLOG = Gauge("stackyard_queue_backlog", "Entries not yet delivered to a consumer group", ["stream"])
PENDING = Gauge("stackyard_pending_entries", "Entries delivered but not acknowledged", ["stream"])


class Orchestrator:
    def __init__(self, settings: Settings, pool: asyncpg.Pool, client: aioredis.Redis) -> None:
        self.settings = settings
        self.pool = pool
        self.redis = client

    async def on_task(self, fields: Fields) -> None:
        task = await self.pool.fetchrow(
            "SELECT id, agent, input, session_id, status FROM tasks WHERE id = $1", fields["task_id"]
        )
        if task is None:
            log(logger, logging.WARNING, "task message for unknown task; dropped", task_id=fields["task_id"])
            return
        if task["status"] in ("completed", "failed"):
            return
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO steps (task_id, step_no, kind) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
                task["id"], task["agent"],
            )
            await connection.execute(
                "UPDATE tasks SET status = 'running', started_at = now(), "
                "published_at = coalesce(published_at, now()) WHERE id = $1 AND status = 'queued'",
                task["id"],
            )
        # Publishing after the commit: a crash in between redelivers the task message, and the
        # step insert above is idempotent, so the step is published again rather than lost.
        await self.redis.xadd(self.settings.steps_stream, {
            "task_id": str(task["id"]), "step_no": "0", "kind": task["agent"],
            "input": task["input"], "session_id": task["session_id"],
        })

    async def on_result(self, fields: Fields) -> None:
        status = "completed" if fields.get("status") == "completed" else "failed"
        output, error = fields.get("output"), fields.get("error") or None
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "UPDATE steps SET status = $3, output = $4, error = $5, completed_at = now() "
                "WHERE task_id = $1 AND step_no = $2 AND status NOT IN ('completed', 'failed')",
                fields["task_id"], int(fields["step_no"]), status, output, error,
            )
            finished = await connection.fetchrow(
                "UPDATE tasks SET status = $2, result = $3, error = $4, completed_at = now() "
                "WHERE id = $1 AND status NOT IN ('completed', 'failed') "
                "RETURNING extract(epoch FROM completed_at - created_at) AS seconds",
                fields["task_id"], status, output, error,
            )
        if finished is not None:
            TASKS_FINISHED.labels(status).inc()
            TASK_DURATION.observe(float(finished["seconds"]))
            log(logger, logging.INFO, f"task {status}", task_id=fields["task_id"])

    async def on_dead_task(self, fields: Fields, reason: str) -> None:
        await self.on_result({"task_id": fields["task_id"], "step_no": "0", "status": "failed", "error": reason})

    async def reconcile_once(self) -> int:
        rows = await self.pool.fetch(
            "SELECT id FROM tasks WHERE published_at IS NULL AND status = 'queued' "
            "AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT 500",
            self.settings.republish_after_seconds,
        )
        for row in rows:
            await self.redis.xadd(self.settings.tasks_stream, {"task_id": str(row["id"])})
            await self.pool.execute("UPDATE tasks SET published_at = now() WHERE id = $1", row["id"])
            REPUBLISHED.inc()
        return len(rows)

    async def observe_streams(self) -> None:
        for stream in (self.settings.tasks_stream, self.settings.steps_stream, self.settings.results_stream):
            try:
                groups = await self.redis.xinfo_groups(stream)
            except Exception:
                continue
            for group in groups:
                BACKLOG.labels(stream).set(group.get("lag") or 0)
                PENDING.labels(stream).set(group.get("pending") or 0)

    async def housekeeping(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.reconcile_once()
                await self.observe_streams()
            except Exception as error:
                log(logger, logging.WARNING, "reconcile failed", error=str(error))
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.settings.reconcile_interval_seconds)
            except TimeoutError:
                pass


def build_app(settings: Settings) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await connect_postgres(
            settings.database_url, settings.database_pool_size, settings.startup_timeout_seconds
        )
        await apply_schema(pool, "schema_tasks.sql")
        client = await connect_redis(settings.redis_url, settings.startup_timeout_seconds)
        orchestrator = Orchestrator(settings, pool, client)
        state.update(pool=pool, redis=client)
        common = dict(
            group=GROUP, dead_letter_stream=settings.dead_letter_stream,
            claim_idle_ms=settings.claim_idle_ms, max_deliveries=settings.max_deliveries,
        )
        consumers = [
            StreamConsumer(client, stream=settings.tasks_stream, handler=orchestrator.on_task,
                           on_dead=orchestrator.on_dead_task, concurrency=4, **common),  # type: ignore[arg-type]
            StreamConsumer(client, stream=settings.results_stream, handler=orchestrator.on_result,
                           on_dead=orchestrator.on_dead_task, concurrency=4, **common),  # type: ignore[arg-type]
        ]
        stopping = asyncio.Event()
        runners = [asyncio.create_task(c.run()) for c in consumers]
        runners.append(asyncio.create_task(orchestrator.housekeeping(stopping)))
        yield
        app.state.draining = True
        stopping.set()
        await asyncio.gather(*(c.drain(settings.drain_seconds) for c in consumers))
        await asyncio.wait(runners, timeout=2)
        for runner in runners:
            runner.cancel()
        await client.aclose()
        await pool.close()

    app = create_app("orchestrator", lifespan=lifespan)

    async def postgres_ready() -> None:
        await state["pool"].fetchval("SELECT 1", timeout=2)  # type: ignore[attr-defined]

    async def redis_ready() -> None:
        await state["redis"].ping()  # type: ignore[attr-defined]

    app.state.readiness_checks.update(postgres=postgres_ready, redis=redis_ready)
    return app
