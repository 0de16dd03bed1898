"""The worker consumes step messages, runs the agent, publishes the outcome for the orchestrator."""

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI
from prometheus_client import Counter, Histogram

from stackyard.common import events
from stackyard.common.deps import connect_redis
from stackyard.common.http import create_app
from stackyard.common.logs import log
from stackyard.common.settings import WorkerSettings as Settings
from stackyard.common.streams import Fields, StreamConsumer
from stackyard.worker import agents

logger = logging.getLogger("stackyard.worker")
GROUP = "workers"

STEPS = Counter("stackyard_steps_total", "Steps executed", ["kind", "status"])
STEP_FAILURES = Counter("stackyard_step_failures_total", "Step attempts that raised", ["kind"])
STEP_DURATION = Histogram(
    "stackyard_step_duration_seconds", "Time to execute one step", ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)


class Worker:
    def __init__(self, settings: Settings, client: aioredis.Redis, clients: agents.Clients) -> None:
        self.settings = settings
        self.redis = client
        self.clients = clients

    async def on_step(self, fields: Fields) -> None:
        step = agents.Step(
            task_id=fields["task_id"], step_no=int(fields["step_no"]), kind=fields["kind"],
            input=fields["input"], session_id=fields["session_id"],
            tool=fields.get("tool", ""), context=fields.get("context", ""),
        )
        agent = agents.AGENTS.get(step.kind)
        if agent is None:
            await self.publish(step, "failed", error=f"no agent named {step.kind!r}")
            return
        if self.settings.failure_rate and random.random() < self.settings.failure_rate:
            STEP_FAILURES.labels(step.kind).inc()
            await self.publish(step, "failed", error="injected failure (worker.failure_rate)")
            return
        await self.event(step, "step", step_no=str(step.step_no), status="running")

        async def on_token(text: str) -> None:
            await self.event(step, "token", step_no=str(step.step_no), text=text)

        with STEP_DURATION.labels(step.kind).time():
            try:
                if self.settings.poison_input and self.settings.poison_input in step.input:
                    raise RuntimeError("poison input (worker.poison_input)")
                output = await asyncio.wait_for(agent(step, self.clients, on_token),
                                                timeout=self.settings.step_timeout_seconds)
            except Exception:
                # Re-raised: the entry stays pending and is retried with backoff, then dead-lettered.
                STEP_FAILURES.labels(step.kind).inc()
                raise
        await self.publish(step, "completed", output=output)

    async def event(self, step: agents.Step, kind: str, **data: str) -> None:
        await events.publish(self.redis, self.settings.events_prefix, step.task_id, kind, **data)

    async def publish(self, step: agents.Step, status: str, output: str = "", error: str = "") -> None:
        STEPS.labels(step.kind, status).inc()
        await self.redis.xadd(self.settings.results_stream, {
            "task_id": step.task_id, "step_no": str(step.step_no), "status": status,
            "output": output, "error": error,
        })
        await self.event(step, "step", step_no=str(step.step_no), status=status)

    async def on_dead_step(self, fields: Fields, reason: str) -> None:
        await self.redis.xadd(self.settings.results_stream, {
            "task_id": fields["task_id"], "step_no": fields.get("step_no", "0"),
            "status": "failed", "output": "", "error": reason,
        })


def build_app(settings: Settings) -> FastAPI:
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect_redis(settings.redis_url, settings.startup_timeout_seconds)
        headers = {"Authorization": f"Bearer {settings.model_api_key}"} if settings.model_api_key else {}
        timeout = settings.request_timeout_seconds
        # Connect errors are retried by the transport; idle connections are dropped early so a
        # restarted peer is not answered from a dead pooled socket.
        common = dict(timeout=timeout, event_hooks={"request": [agents.tag_task]},
                      limits=httpx.Limits(keepalive_expiry=2.0))
        memory = httpx.AsyncClient(base_url=settings.memory_url,
                                   transport=httpx.AsyncHTTPTransport(retries=2), **common)
        model = httpx.AsyncClient(base_url=settings.model_url, headers=headers,
                                  transport=httpx.AsyncHTTPTransport(retries=2), **common)
        state.update(redis=client, memory=memory, model=model)
        worker = Worker(settings, client, agents.Clients(memory, model, settings.model_name, settings.history_window))
        consumer = StreamConsumer(
            client, stream=settings.steps_stream, group=GROUP, handler=worker.on_step,
            dead_letter_stream=settings.dead_letter_stream, on_dead=worker.on_dead_step,
            claim_idle_ms=settings.claim_idle_ms, max_deliveries=settings.max_deliveries,
            concurrency=settings.concurrency,
        )
        runner = asyncio.create_task(consumer.run())
        yield
        app.state.draining = True
        await consumer.drain(settings.drain_seconds)
        await asyncio.wait([runner], timeout=2)
        runner.cancel()
        await memory.aclose()
        await model.aclose()
        await client.aclose()

    app = create_app("worker", lifespan=lifespan)

    async def redis_ready() -> None:
        await state["redis"].ping()  # type: ignore[attr-defined]

    async def memory_ready() -> None:
        (await state["memory"].get("/healthz", timeout=2)).raise_for_status()  # type: ignore[attr-defined]

    async def model_ready() -> None:
        (await state["model"].get("/v1/models", timeout=2)).raise_for_status()  # type: ignore[attr-defined]

    app.state.readiness_checks.update(redis=redis_ready, memory=memory_ready, model=model_ready)
    log(logger, logging.DEBUG, "worker app built", concurrency=settings.concurrency)
    return app
