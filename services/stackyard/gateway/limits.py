"""Backpressure and rate limits, both kept in Redis so every gateway replica sees the same numbers."""

import time

import redis.asyncio as aioredis

from stackyard.common.streams import groups_of, in_flight


class Backlog:
    """Undelivered + unacknowledged entries on the task and step streams, cached briefly so a
    burst of requests costs one XINFO round trip per interval, not one per request."""

    def __init__(self, client: aioredis.Redis, streams: list[str], ttl_seconds: float = 0.5) -> None:
        self.client = client
        self.streams = streams
        self.ttl = ttl_seconds
        self.value = 0
        self.read_at = 0.0

    async def current(self) -> int:
        now = time.monotonic()
        if now - self.read_at >= self.ttl:
            self.value = sum([in_flight(await groups_of(self.client, stream)) for stream in self.streams])
            self.read_at = now
        return self.value


async def allow(client: aioredis.Redis, key: str, per_second: int) -> bool:
    """Fixed one-second window per key; cheap and exact enough for abuse protection."""
    if per_second <= 0:
        return True
    window = f"stackyard:rate:{key}:{int(time.time())}"
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(window)
        pipe.expire(window, 2)
        count, _ = await pipe.execute()
    return int(count) <= per_second
