"""The gateway: validate, commit the task row, then publish it (outbox order), answer 202.

A task exists once its row is committed. If the publish to Redis fails afterwards the client
still gets 202: the orchestrator's reconciler republishes rows that were never published.
Postgres down → 503 (nothing accepted that could be lost); backlog too deep → 429.
"""

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import asyncpg
import httpx
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Request
from fastapi.responses import StreamingResponse
from prometheus_client import Counter

from stackyard.common import events
from stackyard.common.deps import connect_task_store
from stackyard.common.http import create_app
from stackyard.common.logs import log
from stackyard.common.settings import GatewaySettings as Settings
from stackyard.gateway import limits, models, published
from stackyard.gateway.models import (
    ERRORS,
    SESSION_PATTERN,
    SessionHistory,
    StepView,
    TaskAccepted,
    TaskRequest,
    TaskView,
)

logger = logging.getLogger("stackyard.gateway")
TASKS_ACCEPTED = Counter("stackyard_tasks_accepted_total", "Tasks accepted by the gateway", ["agent"])
TASKS_REJECTED = Counter("stackyard_tasks_rejected_total", "Task submissions refused", ["reason"])
PUBLISH_FAILURES = Counter("stackyard_publish_failures_total", "Task publishes left to the reconciler")

TaskId = Annotated[uuid.UUID, Path(description="task id returned by POST /v1/tasks")]
SessionId = Annotated[str, Path(pattern=SESSION_PATTERN)]
DATABASE_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                 asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, TimeoutError)
SSE_KEEPALIVE_SECONDS = 15


def unavailable(what: str, error: BaseException) -> HTTPException:
    return HTTPException(503, f"{what} unavailable, retry later ({type(error).__name__})",
                         headers={"Retry-After": "5"})


def build_app(settings: Settings) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool, client = await connect_task_store(settings)
        state.update(pool=pool, redis=client, http=httpx.AsyncClient(base_url=settings.memory_url, timeout=10),
                     backlog=limits.Backlog(client, [settings.tasks_stream, settings.steps_stream]))
        marks.start()
        yield
        app.state.draining = True
        await marks.stop()  # after the last request: every accepted task's mark reaches Postgres
        await state["http"].aclose()
        await client.aclose()
        await pool.close()

    app = create_app("gateway", lifespan=lifespan, max_body_bytes=settings.max_body_bytes, openapi=True)

    def pool() -> asyncpg.Pool:
        return state["pool"]

    marks = published.PublishedMarks(pool)

    def stream() -> aioredis.Redis:
        return state["redis"]

    async def postgres_ready() -> None:
        await pool().fetchval("SELECT 1", timeout=2)

    async def redis_ready() -> None:
        await stream().ping()

    app.state.readiness_checks.update(postgres=postgres_ready, redis=redis_ready)

    async def caller(request: Request) -> str:
        """Authenticate; return who is calling (a key fingerprint, or the client address in dev)."""
        if not settings.require_api_key:
            return request.client.host if request.client else "anonymous"
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(key, k) for k in settings.api_keys):
            TASKS_REJECTED.labels("auth").inc()
            raise HTTPException(401, "missing or invalid API key (Authorization: Bearer <key>)",
                                headers={"WWW-Authenticate": "Bearer"})
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def validate(task: TaskRequest) -> None:
        if task.agent not in settings.agents:
            raise HTTPException(422, f"unknown agent {task.agent!r}; known agents: {', '.join(settings.agents)}")
        if not task.input.strip():
            raise HTTPException(422, "input must not be empty")
        if len(task.input) > settings.max_input_chars:
            raise HTTPException(422, f"input is {len(task.input)} characters; the limit is {settings.max_input_chars}")

    async def admit(who: str) -> None:
        # Redis is transport, not the source of truth: when it cannot answer, admit the task —
        # the row is committed and the reconciler publishes it once Redis is back.
        try:
            allowed = await limits.allow(stream(), who, settings.rate_limit_per_second)
            backlog = await state["backlog"].current()
        except (OSError, aioredis.ConnectionError, aioredis.TimeoutError) as error:
            log(logger, logging.WARNING, "limits unavailable; admitting", error=str(error))
            return
        if not allowed:
            TASKS_REJECTED.labels("rate").inc()
            raise HTTPException(429, f"rate limit of {settings.rate_limit_per_second} requests/s exceeded",
                                headers={"Retry-After": "1"})
        if backlog > settings.max_backlog:
            TASKS_REJECTED.labels("backlog").inc()
            raise HTTPException(429, f"backlog of {backlog} tasks is over the limit of {settings.max_backlog}",
                                headers={"Retry-After": "2"})

    async def insert(task: TaskRequest, session_id: str, idempotency_key: str | None) -> tuple[TaskAccepted, bool]:
        """Commit the task; with an idempotency key, a repeat returns the first task instead."""
        created = await pool().fetchval(
            "INSERT INTO tasks (id, agent, input, session_id, idempotency_key) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            uuid.uuid4(), task.agent, task.input, session_id, idempotency_key,
        )
        if created is not None:
            return TaskAccepted(id=created, status="queued", session_id=session_id), True
        existing = await pool().fetchrow(
            "SELECT id, status, session_id FROM tasks WHERE idempotency_key = $1", idempotency_key)
        return TaskAccepted(**dict(existing)), False

    @app.post("/v1/tasks", status_code=202, responses=ERRORS, summary="Submit a task")
    async def create_task(
        task: TaskRequest,
        who: Annotated[str, Depends(caller)],
        idempotency_key: Annotated[str | None, Header(max_length=200, description=(
            "repeat a submission safely: the same key returns the same task"))] = None,
    ) -> TaskAccepted:
        validate(task)
        await admit(who)
        session_id = task.session_id or f"session-{uuid.uuid4().hex}"
        scoped_key = f"{who}:{idempotency_key}" if idempotency_key else None
        try:
            accepted, created = await insert(task, session_id, scoped_key)
        except DATABASE_DOWN as error:
            TASKS_REJECTED.labels("unavailable").inc()
            raise unavailable("task store", error) from error
        if not created:
            return accepted
        TASKS_ACCEPTED.labels(task.agent).inc()
        try:
            await stream().xadd(settings.tasks_stream, {"task_id": str(accepted.id)})
            marks.add(accepted.id)  # published_at, in the next batch (gateway/published.py)
        except Exception as error:
            PUBLISH_FAILURES.inc()
            log(logger, logging.WARNING, "publish failed; reconciler will republish",
                task_id=str(accepted.id), error=str(error))
        return accepted

    async def load_task(task_id: uuid.UUID) -> TaskView:
        try:
            row = await pool().fetchrow(
                "SELECT id, agent, session_id, status, result, error, created_at, completed_at "
                "FROM tasks WHERE id = $1", task_id)
            steps = await pool().fetch(
                "SELECT step_no, kind, status, tool, output, error FROM steps WHERE task_id = $1 ORDER BY step_no",
                task_id)
        except DATABASE_DOWN as error:
            raise unavailable("task store", error) from error
        if row is None:
            raise HTTPException(404, f"task {task_id} not found")
        return TaskView(**dict(row), steps=[StepView(**dict(s)) for s in steps])

    @app.get("/v1/tasks/{task_id}", responses=ERRORS, dependencies=[Depends(caller)], summary="A task and its steps")
    async def get_task(task_id: TaskId) -> TaskView:
        return await load_task(task_id)

    @app.get("/v1/tasks/{task_id}/events", responses=ERRORS, dependencies=[Depends(caller)],
             summary="Server-sent events: state changes and model tokens",
             response_class=StreamingResponse)
    async def task_events(task_id: TaskId, request: Request) -> StreamingResponse:
        first = await load_task(task_id)
        return StreamingResponse(event_stream(first, request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def sse(kind: str, data: dict[str, Any]) -> str:
        return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"

    async def event_stream(first: TaskView, request: Request) -> AsyncIterator[str]:
        yield sse("task", {"status": first.status})
        if first.status in events.TERMINAL:
            yield sse("done", first.model_dump(mode="json"))
            return
        name, last = events.stream_for(settings.events_prefix, str(first.id)), "0"
        while not await request.is_disconnected():
            try:
                batch = await stream().xread({name: last}, count=100, block=SSE_KEEPALIVE_SECONDS * 1000)
            except Exception as error:
                yield sse("error", {"error": f"event stream interrupted: {type(error).__name__}"})
                return
            finished = False
            for _name, entries in batch or []:
                for entry_id, fields in entries:
                    last = entry_id
                    kind = fields.pop("type", "event")
                    yield sse(kind, fields)
                    finished = finished or (kind == "task" and fields.get("status") in events.TERMINAL)
            if not batch:
                yield ": keepalive\n\n"
                finished = (await load_task(first.id)).status in events.TERMINAL
            if finished:
                yield sse("done", (await load_task(first.id)).model_dump(mode="json"))
                return

    @app.get("/v1/sessions/{session_id}/messages", responses=ERRORS, dependencies=[Depends(caller)],
             summary="A session's messages in order")
    async def session_messages(session_id: SessionId) -> SessionHistory:
        client: httpx.AsyncClient = state["http"]
        try:
            response = await client.get(f"/v1/sessions/{session_id}/messages", params={"limit": 1000})
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise unavailable("memory service", error) from error
        return SessionHistory(session_id=session_id, messages=response.json()["messages"])

    models.state_limits(app, settings.agents, settings.max_input_chars)
    log(logger, logging.DEBUG, "gateway app built", agents=settings.agents)
    return app
