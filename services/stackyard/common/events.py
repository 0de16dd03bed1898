"""Per-task event streams: state changes and model tokens, read by the gateway's SSE endpoint.

Events are best-effort telemetry, not the source of truth (Postgres is): a failed publish is
logged and never fails the work. Each stream is capped and expires an hour after its last event.
"""

import logging

import redis.asyncio as aioredis

from stackyard.common.logs import log

logger = logging.getLogger("stackyard.events")
MAX_EVENTS = 2_000
TTL_SECONDS = 3_600
TERMINAL = ("completed", "failed")


def stream_for(prefix: str, task_id: str) -> str:
    return f"{prefix}{task_id}"


async def publish(client: aioredis.Redis, prefix: str, task_id: str, kind: str, **data: str) -> None:
    stream = stream_for(prefix, task_id)
    try:
        async with client.pipeline(transaction=False) as pipe:
            pipe.xadd(stream, {"type": kind, **data}, maxlen=MAX_EVENTS, approximate=True)
            pipe.expire(stream, TTL_SECONDS)
            await pipe.execute()
    except Exception as error:
        log(logger, logging.WARNING, "event not published", task_id=task_id, kind=kind, error=str(error))
