"""OpenAI-compatible `/v1/chat/completions` (plain and streaming) and `/v1/models`."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import StreamingResponse
from prometheus_client import Counter
from pydantic import BaseModel, Field

from stackyard.common.http import create_app
from stackyard.common.settings import ModelSettings as Settings
from stackyard.model.simulate import Message, answer, count_tokens, tokens

MODEL_TOKENS = Counter("stackyard_model_tokens_total", "Completion tokens generated", ["model"])


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(max_length=200_000)


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)


def burn_cpu(seconds: float) -> None:
    """Busy-wait like a model computing tokens, so the model scales on CPU as a real one does."""
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def build_app(settings: Settings) -> FastAPI:
    app = create_app("model", openapi=True)

    async def delay_for(count: int) -> None:
        burn_cpu(count * settings.cpu_ms_per_token / 1000)
        await asyncio.sleep(count / settings.tokens_per_second if settings.tokens_per_second > 0 else 0)

    @app.get("/v1/models")
    async def models() -> dict[str, object]:
        return {"object": "list", "data": [{"id": settings.model_name, "object": "model", "owned_by": "stackyard"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def completions(request: ChatRequest) -> dict[str, object] | StreamingResponse:
        if request.model != settings.model_name:
            raise HTTPException(404, f"model {request.model!r} not found; this server serves {settings.model_name!r}")
        conversation = [Message(m.role, m.content) for m in request.messages]
        pieces = tokens(answer(conversation))
        if request.max_tokens is not None:
            pieces = pieces[: request.max_tokens]
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        await asyncio.sleep(settings.first_token_ms / 1000)
        MODEL_TOKENS.labels(settings.model_name).inc(len(pieces))
        if request.stream:
            return StreamingResponse(
                stream(completion_id, created, pieces), media_type="text/event-stream"
            )
        await delay_for(len(pieces))
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": settings.model_name,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "".join(pieces)},
                "finish_reason": "stop",
            }],
            "usage": {
                "prompt_tokens": count_tokens(conversation),
                "completion_tokens": len(pieces),
                "total_tokens": count_tokens(conversation) + len(pieces),
            },
        }

    async def stream(completion_id: str, created: int, pieces: list[str]) -> AsyncIterator[str]:
        def chunk(delta: dict[str, str], finish: str | None) -> str:
            body = {
                "id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": settings.model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(body)}\n\n"

        yield chunk({"role": "assistant"}, None)
        for piece in pieces:
            await delay_for(1)
            yield chunk({"content": piece}, None)
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return app
