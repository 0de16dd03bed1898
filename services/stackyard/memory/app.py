"""HTTP API over the messages table.

POST is idempotent per (task_id, step_id): a redelivered step stores its messages once.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import FastAPI, Path, Query
from pydantic import AfterValidator, BaseModel, Field

from stackyard.common.deps import apply_schema, connect_postgres
from stackyard.common.http import create_app
from stackyard.common.settings import MemorySettings as Settings
from stackyard.common.text import require_storable

SessionId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


StorableText = Annotated[str, AfterValidator(require_storable)]


class NewMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: StorableText = Field(min_length=1, max_length=200_000)


class AppendRequest(BaseModel):
    messages: list[NewMessage] = Field(min_length=1, max_length=100)
    task_id: StorableText | None = Field(default=None, max_length=128)
    step_id: StorableText | None = Field(default=None, max_length=128)


class StoredMessage(BaseModel):
    id: int
    role: str
    content: str
    task_id: str | None
    step_id: str | None
    created_at: datetime


class MessageList(BaseModel):
    session_id: str
    messages: list[StoredMessage]


def _rows(rows: list[asyncpg.Record]) -> list[StoredMessage]:
    return [StoredMessage(**dict(row)) for row in rows]


def build_app(settings: Settings) -> FastAPI:
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await connect_postgres(
            settings.database_url, settings.database_pool_size, settings.startup_timeout_seconds
        )
        await apply_schema(pool, "schema_memory.sql")
        state["pool"] = pool
        yield
        app.state.draining = True
        await pool.close()

    app = create_app("memory", lifespan=lifespan)

    async def postgres_ready() -> None:
        await state["pool"].fetchval("SELECT 1", timeout=2)

    app.state.readiness_checks["postgres"] = postgres_ready

    @app.post("/v1/sessions/{session_id}/messages", status_code=201)
    async def append(session_id: SessionId, request: AppendRequest) -> MessageList:
        async with state["pool"].acquire() as connection, connection.transaction():
            for seq, message in enumerate(request.messages):
                await connection.execute(
                    """INSERT INTO messages (session_id, role, content, task_id, step_id, seq)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (task_id, step_id, seq) DO NOTHING""",
                    session_id, message.role, message.content, request.task_id, request.step_id, seq,
                )
            rows = await connection.fetch(
                "SELECT id, role, content, task_id, step_id, created_at FROM messages "
                "WHERE session_id = $1 ORDER BY id", session_id,
            )
        return MessageList(session_id=session_id, messages=_rows(rows))

    @app.get("/v1/sessions/{session_id}/messages")
    async def history(
        session_id: SessionId, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> MessageList:
        # The newest `limit` messages, returned oldest first.
        rows = await state["pool"].fetch(
            "SELECT * FROM (SELECT id, role, content, task_id, step_id, created_at FROM messages "
            "WHERE session_id = $1 ORDER BY id DESC LIMIT $2) recent ORDER BY id", session_id, limit,
        )
        return MessageList(session_id=session_id, messages=_rows(rows))

    @app.get("/v1/sessions/{session_id}/recall")
    async def recall(
        session_id: SessionId,
        q: Annotated[StorableText, Query(min_length=1, max_length=1000)],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> MessageList:
        rows = await state["pool"].fetch(
            """SELECT id, role, content, task_id, step_id, created_at FROM messages
               WHERE session_id = $1 AND to_tsvector('english', content) @@ plainto_tsquery('english', $2)
               ORDER BY ts_rank(to_tsvector('english', content), plainto_tsquery('english', $2)) DESC, id
               LIMIT $3""",
            session_id, q, limit,
        )
        return MessageList(session_id=session_id, messages=_rows(rows))

    return app
