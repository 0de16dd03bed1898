"""The gateway: validate, commit the task row, then publish it (outbox order), answer 202.

A task exists once its row is committed. If the publish to Redis fails afterwards the client
still gets 202: the orchestrator's reconciler republishes rows that were never published.
"""

import hmac
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
import httpx
import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, HTTPException, Path, Request
from prometheus_client import Counter
from pydantic import BaseModel, Field, field_validator

from stackyard.common.deps import apply_schema, connect_postgres, connect_redis
from stackyard.common.http import create_app
from stackyard.common.logs import log
from stackyard.common.settings import GatewaySettings as Settings

logger = logging.getLogger("stackyard.gateway")
TASKS_ACCEPTED = Counter("stackyard_tasks_accepted_total", "Tasks accepted by the gateway", ["agent"])
PUBLISH_FAILURES = Counter("stackyard_publish_failures_total", "Task publishes left to the reconciler")

SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
TaskId = Annotated[uuid.UUID, Path(description="task id returned by POST /v1/tasks")]
SessionId = Annotated[str, Path(pattern=SESSION_PATTERN)]


class TaskRequest(BaseModel):
    agent: str = Field(description="which agent runs the task, e.g. 'chat'")
    input: str = Field(description="the user's text")
    session_id: str | None = Field(default=None, pattern=SESSION_PATTERN)


class TaskAccepted(BaseModel):
    id: uuid.UUID
    status: Literal["queued"]
    session_id: str


class TaskView(BaseModel):
    id: uuid.UUID
    agent: str
    session_id: str
    status: Literal["queued", "running", "completed", "failed"]
    result: str | None
    error: str | None
    created_at: datetime
    completed_at: datetime | None


class SessionMessage(BaseModel):
    role: str
    content: str
    task_id: str | None
    created_at: datetime


class SessionHistory(BaseModel):
    session_id: str
    messages: list[SessionMessage]


def build_app(settings: Settings) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await connect_postgres(
            settings.database_url, settings.database_pool_size, settings.startup_timeout_seconds
        )
        await apply_schema(pool, "schema_tasks.sql")
        state["pool"] = pool
        state["redis"] = await connect_redis(settings.redis_url, settings.startup_timeout_seconds)
        state["http"] = httpx.AsyncClient(base_url=settings.memory_url, timeout=10)
        yield
        app.state.draining = True
        await state["http"].aclose()  # type: ignore[attr-defined]
        await state["redis"].aclose()  # type: ignore[attr-defined]
        await pool.close()

    app = create_app("gateway", lifespan=lifespan, max_body_bytes=settings.max_body_bytes, openapi=True)

    def pool() -> asyncpg.Pool:
        return state["pool"]  # type: ignore[return-value]

    def stream() -> aioredis.Redis:
        return state["redis"]  # type: ignore[return-value]

    async def postgres_ready() -> None:
        await pool().fetchval("SELECT 1", timeout=2)

    async def redis_ready() -> None:
        await stream().ping()

    app.state.readiness_checks.update(postgres=postgres_ready, redis=redis_ready)

    async def authorize(request: Request) -> None:
        if not settings.require_api_key:
            return
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(key, k) for k in settings.api_keys):
            raise HTTPException(401, "missing or invalid API key (Authorization: Bearer <key>)",
                                headers={"WWW-Authenticate": "Bearer"})

    def validate(task: TaskRequest) -> None:
        if task.agent not in settings.agents:
            raise HTTPException(422, f"unknown agent {task.agent!r}; known agents: {', '.join(settings.agents)}")
        if not task.input.strip():
            raise HTTPException(422, "input must not be empty")
        if len(task.input) > settings.max_input_chars:
            raise HTTPException(422, f"input is {len(task.input)} characters; the limit is {settings.max_input_chars}")

    @app.post("/v1/tasks", status_code=202, dependencies=[Depends(authorize)])
    async def create_task(task: TaskRequest) -> TaskAccepted:
        validate(task)
        task_id = uuid.uuid4()
        session_id = task.session_id or f"session-{uuid.uuid4().hex}"
        try:
            await pool().execute(
                "INSERT INTO tasks (id, agent, input, session_id) VALUES ($1, $2, $3, $4)",
                task_id, task.agent, task.input, session_id,
            )
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
            raise HTTPException(503, f"task store unavailable, retry later: {type(error).__name__}",
                                headers={"Retry-After": "5"}) from error
        TASKS_ACCEPTED.labels(task.agent).inc()
        try:
            await stream().xadd(settings.tasks_stream, {"task_id": str(task_id)})
            await pool().execute("UPDATE tasks SET published_at = now() WHERE id = $1", task_id)
        except Exception as error:
            PUBLISH_FAILURES.inc()
            log(logger, logging.WARNING, "publish failed; reconciler will republish",
                task_id=str(task_id), error=str(error))
        return TaskAccepted(id=task_id, status="queued", session_id=session_id)

    @app.get("/v1/tasks/{task_id}", dependencies=[Depends(authorize)])
    async def get_task(task_id: TaskId) -> TaskView:
        row = await pool().fetchrow(
            "SELECT id, agent, session_id, status, result, error, created_at, completed_at "
            "FROM tasks WHERE id = $1", task_id,
        )
        if row is None:
            raise HTTPException(404, f"task {task_id} not found")
        return TaskView(**dict(row))

    @app.get("/v1/sessions/{session_id}/messages", dependencies=[Depends(authorize)])
    async def session_messages(session_id: SessionId) -> SessionHistory:
        client: httpx.AsyncClient = state["http"]  # type: ignore[assignment]
        try:
            response = await client.get(f"/v1/sessions/{session_id}/messages", params={"limit": 1000})
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise HTTPException(503, f"memory service unavailable: {type(error).__name__}") from error
        return SessionHistory(session_id=session_id, messages=response.json()["messages"])

    return app
