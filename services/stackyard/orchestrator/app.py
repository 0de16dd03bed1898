"""The orchestrator consumes two streams and owns every state change of tasks and steps.

- tasks stream: a committed task → its plan's step rows (idempotent) → step messages for workers.
- results stream: a worker's step outcome → step row → the next due step, or the task's end
  (completed when its final step completes, failed when any step fails).
A reconciler republishes tasks that were committed but whose publish never happened.
All writes are guarded by the current status, so a redelivered message changes nothing twice.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram

from stackyard.common import events, streams
from stackyard.common.deps import connect_task_store
from stackyard.common.http import create_app
from stackyard.common.logs import log
from stackyard.common.settings import OrchestratorSettings as Settings
from stackyard.common.streams import Fields, StreamConsumer
from stackyard.orchestrator import planning

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
OLDEST_AGE = Gauge("stackyard_queue_oldest_age_seconds", "Age of the oldest unacknowledged entry", ["stream"])


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
        try:
            steps = planning.plan(task["agent"], task["input"])
        except ValueError as error:
            await self.finish(str(task["id"]), "failed", None, str(error))
            return
        async with self.pool.acquire() as connection, connection.transaction():
            for step in steps:
                await connection.execute(
                    "INSERT INTO steps (task_id, step_no, kind, input, tool, status) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT DO NOTHING",
                    task["id"], step.step_no, step.kind, step.input, step.tool,
                    "waiting" if step.waiting else "queued",
                )
            started = await connection.fetchval(
                "UPDATE tasks SET status = 'running', started_at = now(), "
                "published_at = coalesce(published_at, now()) WHERE id = $1 AND status = 'queued' RETURNING id",
                task["id"],
            )
        if started:
            await events.publish(self.redis, self.settings.events_prefix, str(task["id"]), "task", status="running")
        # Publishing after the commit: a crash in between redelivers the task message, and the
        # step inserts above are idempotent, so steps are published again rather than lost.
        for step in steps:
            if not step.waiting:
                await self.publish_step(task, step.step_no, step.kind, step.input, step.tool)

    async def publish_step(self, task: Mapping[str, Any], step_no: int, kind: str, text: str,
                           tool: str | None, context: str = "") -> None:
        await self.redis.xadd(self.settings.steps_stream, {
            "task_id": str(task["id"]), "step_no": str(step_no), "kind": kind, "input": text,
            "session_id": task["session_id"], "tool": tool or "", "context": context,
        })
        await self.pool.execute("UPDATE steps SET published_at = now() WHERE task_id = $1 AND step_no = $2",
                                task["id"], step_no)

    async def on_result(self, fields: Fields) -> None:
        status = "completed" if fields.get("status") == "completed" else "failed"
        output, error = fields.get("output"), fields.get("error") or None
        task_id, step_no = fields["task_id"], int(fields["step_no"])
        due = False
        async with self.pool.acquire() as connection, connection.transaction():
            # The row lock serialises results of one task: the last sub-step sees all others done.
            task = await connection.fetchrow(
                "SELECT id, session_id, status FROM tasks WHERE id = $1 FOR UPDATE", task_id)
            if task is None or task["status"] in ("completed", "failed"):
                return
            await connection.execute(
                "UPDATE steps SET status = $3, output = $4, error = $5, completed_at = now() "
                "WHERE task_id = $1 AND step_no = $2 AND status NOT IN ('completed', 'failed')",
                task["id"], step_no, status, output, error,
            )
            steps = await connection.fetch(
                "SELECT step_no, kind, status, output FROM steps WHERE task_id = $1 ORDER BY step_no",
                task["id"])
            final = steps[-1]
            if status == "failed":
                reason = f"step {step_no}: {error}" if len(steps) > 1 else error
                outcome: tuple[str, str | None, str | None] | None = ("failed", None, reason)
            elif final["status"] == "completed":
                outcome = ("completed", final["output"], None)
            else:
                outcome = None
                if final["status"] == "waiting" and all(s["status"] == "completed" for s in steps[:-1]):
                    await connection.execute(
                        "UPDATE steps SET status = 'queued' WHERE task_id = $1 AND step_no = $2",
                        task["id"], final["step_no"])
                    due = True
            if outcome is not None:
                await self._finish_in(connection, task["id"], *outcome)
        if due:
            await self.publish_due_step(task, final["step_no"])
        if outcome is not None:
            await self._finished(task_id, outcome[0])

    async def _finish_in(self, connection: asyncpg.Connection, task_id: Any, status: str,
                         result: str | None, error: str | None) -> None:
        seconds = await connection.fetchval(
            "UPDATE tasks SET status = $2, result = $3, error = $4, completed_at = now() "
            "WHERE id = $1 AND status NOT IN ('completed', 'failed') "
            "RETURNING extract(epoch FROM completed_at - created_at)",
            task_id, status, result, error,
        )
        if seconds is not None:
            TASKS_FINISHED.labels(status).inc()
            TASK_DURATION.observe(float(seconds))

    async def _finished(self, task_id: str, status: str) -> None:
        log(logger, logging.INFO, f"task {status}", task_id=task_id)
        await events.publish(self.redis, self.settings.events_prefix, task_id, "task", status=status)

    async def finish(self, task_id: str, status: str, result: str | None, error: str | None) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            await self._finish_in(connection, task_id, status, result, error)
        await self._finished(task_id, status)

    async def on_dead_task(self, fields: Fields, reason: str) -> None:
        await self.finish(fields["task_id"], "failed", None, reason)

    async def reconcile_once(self, groups: dict[str, streams.Groups]) -> int:
        """Publish what Postgres says is due but Redis does not hold. Returns how many.

        - tasks committed but never published (the gateway lost Redis after the commit);
        - task and step messages lost with Redis (e.g. a crash between two fsyncs of its
          append-only file): when the streams hold fewer entries than Postgres has work
          outstanding, the oldest outstanding messages are published again. Duplicates are
          harmless — every effect is idempotent — so this errs on the side of republishing.
        """
        rows = await self.pool.fetch(
            "SELECT id FROM tasks WHERE published_at IS NULL AND status = 'queued' "
            "AND created_at < now() - make_interval(secs => $1) ORDER BY created_at LIMIT 500",
            self.settings.republish_after_seconds,
        )
        for row in rows:
            await self.republish_task(row["id"])
        return len(rows) + await self.redeliver_lost(groups)

    async def republish_task(self, task_id: Any) -> None:
        await self.redis.xadd(self.settings.tasks_stream, {"task_id": str(task_id)})
        await self.pool.execute("UPDATE tasks SET published_at = now() WHERE id = $1", task_id)
        REPUBLISHED.inc()

    async def redeliver_lost(self, groups: dict[str, streams.Groups]) -> int:
        age = self.settings.redeliver_after_seconds
        outstanding_tasks = await self.pool.fetchval(
            "SELECT count(*) FROM tasks WHERE status = 'queued' AND published_at IS NOT NULL")
        redelivered = 0
        if outstanding_tasks > streams.in_flight(groups[self.settings.tasks_stream]):
            for row in await self.pool.fetch(
                    "SELECT id FROM tasks WHERE status = 'queued' AND published_at < now() - make_interval(secs => $1) "
                    "ORDER BY published_at LIMIT 100", age):
                await self.republish_task(row["id"])
                redelivered += 1
        outstanding_steps = await self.pool.fetchval(
            "SELECT count(*) FROM steps s JOIN tasks t ON t.id = s.task_id WHERE s.status = 'queued' "
            "AND s.published_at IS NOT NULL AND t.status = 'running'")
        # A step whose result waits in the results stream is still 'queued' in Postgres.
        held = streams.in_flight(groups[self.settings.steps_stream]) + streams.in_flight(
            groups[self.settings.results_stream])
        if outstanding_steps > held:
            for step in await self.pool.fetch(
                    "SELECT t.id, t.session_id, s.step_no FROM steps s "
                    "JOIN tasks t ON t.id = s.task_id "
                    "WHERE s.status = 'queued' AND t.status = 'running' AND s.published_at < now() - "
                    "make_interval(secs => $1) ORDER BY s.published_at LIMIT 100", age):
                await self.publish_due_step(step, step["step_no"])
                REPUBLISHED.inc()
                redelivered += 1
        return redelivered

    async def publish_due_step(self, task: Mapping[str, Any], step_no: int) -> None:
        """Publish one step from its row; a synthesis carries the outputs of the steps before it."""
        steps = await self.pool.fetch(
            "SELECT step_no, kind, input, output, tool FROM steps WHERE task_id = $1 ORDER BY step_no", task["id"])
        step = next(s for s in steps if s["step_no"] == step_no)
        context = ""
        if step["kind"] == "synthesis":
            before = [s for s in steps if s["step_no"] < step_no]
            context = json.dumps([{"input": s["input"], "output": s["output"]} for s in before])
        await self.publish_step(task, step_no, step["kind"], step["input"], step["tool"], context)

    async def expire_once(self) -> int:
        rows = await self.pool.fetch(
            "UPDATE tasks SET status = 'failed', error = $2, completed_at = now() "
            "WHERE status IN ('queued', 'running') AND created_at < now() - make_interval(secs => $1) "
            "RETURNING id",
            self.settings.task_timeout_seconds, f"timed out after {self.settings.task_timeout_seconds:.0f}s",
        )
        for row in rows:
            TASKS_FINISHED.labels("failed").inc()
            await self._finished(str(row["id"]), "failed")
        return len(rows)

    async def observe_streams(self, groups: dict[str, streams.Groups]) -> None:
        for stream, of_stream in groups.items():
            BACKLOG.labels(stream).set(sum(group.get("lag") or 0 for group in of_stream))
            PENDING.labels(stream).set(sum(group.get("pending") or 0 for group in of_stream))
            OLDEST_AGE.labels(stream).set(await self.oldest_age(stream, of_stream))

    async def oldest_age(self, stream: str, groups: streams.Groups) -> float:
        """Age of the oldest entry not yet acknowledged by some group (0 when there is none)."""
        oldest_ms: int | None = None
        for group in groups:
            candidates = []
            if group.get("pending"):
                summary = await self.redis.xpending(stream, group["name"])
                candidates.append(summary.get("min"))
            if group.get("lag"):
                after = await self.redis.xrange(stream, min=f"({group['last-delivered-id']}", count=1)
                candidates += [entry_id for entry_id, _ in after]
            for entry_id in candidates:
                if entry_id:
                    millis = int(str(entry_id).split("-")[0])
                    oldest_ms = millis if oldest_ms is None else min(oldest_ms, millis)
        return max(0.0, time.time() - oldest_ms / 1000) if oldest_ms else 0.0

    async def housekeeping(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                # One XINFO per stream per cycle, shared by the reconciler and the gauges.
                names = (self.settings.tasks_stream, self.settings.steps_stream, self.settings.results_stream)
                groups = {name: await streams.groups_of(self.redis, name) for name in names}
                await self.reconcile_once(groups)
                await self.expire_once()
                await self.observe_streams(groups)
            except Exception as error:
                log(logger, logging.WARNING, "housekeeping failed", error=str(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=self.settings.reconcile_interval_seconds)


def build_app(settings: Settings) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool, client = await connect_task_store(settings)
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
