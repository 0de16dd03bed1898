"""HTTP API over the messages table.

POST is idempotent per (task_id, step_id, seq): a redelivered step stores its messages once. It
answers what was stored (count and ids), never the session: a turn's write costs the same at turn
1,000 as at turn 10. Reads are bounded windows, newest first by the (session_id, id) index.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import FastAPI, HTTPException, Path, Query
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


class Stored(BaseModel):
    session_id: str
    # Messages this request stored; a redelivered step's repeat stores none (0, []).
    stored: int
    ids: list[int]


# The newest $2 messages of session $1 (before step ($3, $4)'s first message, if it wrote any),
# oldest first: a backward scan of messages_session (session_id, id) from (session, bound) that
# stops after $2 rows; the step's first id comes from the unique (task_id, step_id, seq) index.
# The bound is a row comparison and the order names both index columns (session_id = $1 would let
# the planner drop it), so no plan can walk the primary key backwards filtering by session, which
# reads every newer message of other sessions first. tests/integration EXPLAIN it.
WINDOW_SQL = """
SELECT * FROM (
    SELECT id, role, content, task_id, step_id, created_at FROM messages
    WHERE session_id >= $1
      AND (session_id, id) < ($1, COALESCE(
          (SELECT min(id) FROM messages WHERE task_id = $3 AND step_id = $4 AND session_id = $1),
          9223372036854775807))
    ORDER BY session_id DESC, id DESC LIMIT $2
) recent ORDER BY id"""


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
    async def append(session_id: SessionId, request: AppendRequest) -> Stored:
        # One statement, one round trip: the rows in request order (ids ascending), the ones a
        # redelivered step already stored skipped by the unique (task_id, step_id, seq).
        ids = await state["pool"].fetch(
            """INSERT INTO messages (session_id, role, content, task_id, step_id, seq)
               SELECT $1, m.role, m.content, $4, $5, (m.ord - 1)::integer
               FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS m (role, content, ord)
               ORDER BY m.ord
               ON CONFLICT (task_id, step_id, seq) DO NOTHING
               RETURNING id""",
            session_id, [m.role for m in request.messages], [m.content for m in request.messages],
            request.task_id, request.step_id,
        )
        stored = sorted(row["id"] for row in ids)
        return Stored(session_id=session_id, stored=len(stored), ids=stored)

    @app.get("/v1/sessions/{session_id}/messages")
    async def history(
        session_id: SessionId,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        before_task_id: Annotated[StorableText | None, Query(min_length=1, max_length=128)] = None,
        before_step_id: Annotated[StorableText | None, Query(min_length=1, max_length=128)] = None,
    ) -> MessageList:
        """The newest `limit` messages, oldest first. With before_task_id and before_step_id: the
        newest `limit` written before that step's first message (the plain newest window if it
        wrote none), so a redelivered step reads the window its first delivery read."""
        if (before_task_id is None) != (before_step_id is None):
            raise HTTPException(422, "before_task_id and before_step_id go together")
        rows = await state["pool"].fetch(WINDOW_SQL, session_id, limit, before_task_id, before_step_id)
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
