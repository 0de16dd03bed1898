"""At-least-once consumption of a Redis stream through a consumer group.

New entries are read with XREADGROUP and acknowledged only after the handler succeeded, so a
crash leaves them pending. Entries pending longer than `claim_idle_ms` (their consumer is
presumed dead, or the handler failed) are claimed again, each retry waiting twice as long as the
one before (capped); an entry delivered `max_deliveries` times is a poison message: it goes to
the dead-letter stream and `on_dead` decides what that means.
"""

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import Counter
from redis.exceptions import ResponseError

from stackyard.common.logs import log, task_id_var

logger = logging.getLogger("stackyard.streams")
DEAD_LETTERS = Counter("stackyard_dead_letters_total", "Entries moved to the dead-letter stream", ["stream"])
MAX_BACKOFF_FACTOR = 8

Fields = dict[str, str]
Handler = Callable[[Fields], Awaitable[None]]
DeadHandler = Callable[[Fields, str], Awaitable[None]]


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


Groups = list[dict[str, Any]]


async def groups_of(client: aioredis.Redis, stream: str) -> Groups:
    """XINFO GROUPS of a stream; none while the stream does not exist yet."""
    try:
        return list(await client.xinfo_groups(stream))
    except ResponseError:
        return []


def in_flight(groups: Groups) -> int:
    """Entries not yet delivered (lag) plus delivered but unacknowledged (pending), all groups."""
    return sum((group.get("lag") or 0) + (group.get("pending") or 0) for group in groups)


async def ensure_group(client: aioredis.Redis, stream: str, group: str) -> None:
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class StreamConsumer:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        stream: str,
        group: str,
        handler: Handler,
        dead_letter_stream: str,
        on_dead: DeadHandler,
        claim_idle_ms: int,
        max_deliveries: int,
        concurrency: int = 1,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.handler = handler
        self.dead_letter_stream = dead_letter_stream
        self.on_dead = on_dead
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.concurrency = concurrency
        self.name = consumer_name()
        self.stopping = asyncio.Event()
        self.in_flight = 0

    async def run(self) -> None:
        await ensure_group(self.client, self.stream, self.group)
        loops = [self._read_loop() for _ in range(self.concurrency)]
        await asyncio.gather(*loops, self._claim_loop())

    def stop(self) -> None:
        self.stopping.set()

    async def _process(self, entry_id: str, fields: Fields) -> None:
        token = task_id_var.set(fields.get("task_id"))
        self.in_flight += 1
        try:
            await self.handler(fields)
            await self.client.xack(self.stream, self.group, entry_id)
        except Exception as error:
            # Left pending on purpose: the claim loop retries it after claim_idle_ms.
            log(logger, logging.WARNING, "handler failed; entry stays pending",
                stream=self.stream, entry=entry_id, error=f"{type(error).__name__}: {error}")
        finally:
            self.in_flight -= 1
            task_id_var.reset(token)

    async def _read_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                response = await self.client.xreadgroup(
                    self.group, self.name, {self.stream: ">"}, count=1, block=1000
                )
            except Exception as error:
                log(logger, logging.WARNING, "stream read failed", stream=self.stream, error=str(error))
                await asyncio.sleep(1)
                continue
            for _stream, entries in response or []:
                for entry_id, fields in entries:
                    await self._process(entry_id, fields)

    async def _claim_loop(self) -> None:
        interval = max(self.claim_idle_ms / 2000, 0.5)
        while not self.stopping.is_set():
            try:
                await self.claim_once()
            except Exception as error:
                log(logger, logging.WARNING, "claim failed", stream=self.stream, error=str(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=interval)

    async def claim_once(self) -> int:
        """Claim (or dead-letter) entries idle past claim_idle_ms; returns how many were handled."""
        pending = await self.client.xpending_range(
            self.stream, self.group, min="-", max="+", count=50, idle=self.claim_idle_ms
        )
        handled = 0
        for item in pending:
            factor = min(2 ** (item["times_delivered"] - 1), MAX_BACKOFF_FACTOR)
            if item["time_since_delivered"] < self.claim_idle_ms * factor:
                continue  # backing off before the next retry
            entry_id = item["message_id"]
            claimed = await self.client.xclaim(
                self.stream, self.group, self.name, self.claim_idle_ms, [entry_id]
            )
            for claimed_id, fields in claimed:
                if fields is None:  # entry trimmed from the stream meanwhile
                    await self.client.xack(self.stream, self.group, claimed_id)
                    continue
                handled += 1
                if item["times_delivered"] >= self.max_deliveries:
                    await self._dead_letter(claimed_id, fields, item["times_delivered"])
                else:
                    await self._process(claimed_id, fields)
        return handled

    async def _dead_letter(self, entry_id: str, fields: Fields, deliveries: int) -> None:
        reason = f"gave up after {deliveries} deliveries"
        await self.client.xadd(
            self.dead_letter_stream,
            {**fields, "source_stream": self.stream, "source_id": entry_id, "reason": reason},
        )
        await self.on_dead(fields, reason)
        await self.client.xack(self.stream, self.group, entry_id)
        DEAD_LETTERS.labels(self.stream).inc()
        log(logger, logging.ERROR, "dead-lettered", stream=self.stream, entry=entry_id, reason=reason)

    async def drain(self, timeout_seconds: float) -> None:
        """Stop reading and wait (bounded) for in-flight handlers; unfinished ones stay pending."""
        self.stop()
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while self.in_flight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
