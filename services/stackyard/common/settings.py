"""Typed settings, read from STACKYARD_* environment variables and nowhere else.

Each component subclasses `ServiceSettings`; the object is built once in `server.serve` and
passed down explicitly. Secrets (database URL with its password, API keys) have no default:
outside the dev stages a missing secret is a startup error, not a silent fallback.
"""

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Stage = Literal["dev", "ci", "test", "kind", "staging", "production"]
DEV_STAGES = ("dev", "ci", "test")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STACKYARD_", extra="ignore", frozen=True)

    stage: Stage = "dev"
    host: str = "0.0.0.0"
    port: int = 8000
    log_level: str = "INFO"
    # Seconds a SIGTERM'd process may spend finishing in-flight work before it exits.
    drain_seconds: float = 10.0
    # Bounded wait for dependencies at startup before giving up (the orchestrator restarts us).
    startup_timeout_seconds: float = 60.0


class DatabaseSettings(ServiceSettings):
    database_url: str
    database_pool_size: int = 10


class StreamSettings(ServiceSettings):
    redis_url: str
    tasks_stream: str = "stackyard:tasks"
    steps_stream: str = "stackyard:steps"
    results_stream: str = "stackyard:step-results"
    dead_letter_stream: str = "stackyard:dead-letter"
    events_prefix: str = "stackyard:events:"
    # A pending entry idle this long belongs to a consumer presumed dead (or its handler failed)
    # and is delivered again; each further retry waits twice as long (exponential backoff).
    claim_idle_ms: int = 15_000
    max_deliveries: int = 5


class GatewaySettings(DatabaseSettings, StreamSettings):
    memory_url: str
    api_keys: list[str] = []
    require_api_key: bool = True
    max_body_bytes: int = 1_048_576
    max_input_chars: int = 32_000
    agents: list[str] = ["chat", "planner"]
    # Backpressure: above this many undelivered + unacknowledged entries, new tasks get 429.
    max_backlog: int = 5_000
    # Requests per second per API key (or client address without keys); 0 = unlimited.
    rate_limit_per_second: int = 0

    @model_validator(mode="after")
    def keys_outside_dev(self) -> "GatewaySettings":
        if self.require_api_key and not self.api_keys:
            raise ValueError(
                "STACKYARD_API_KEYS is empty while STACKYARD_REQUIRE_API_KEY is true: "
                "set keys, or disable keys (allowed in dev stages only)"
            )
        if not self.require_api_key and self.stage not in DEV_STAGES:
            raise ValueError(f"API keys can only be disabled in {DEV_STAGES}, not in {self.stage!r}")
        return self


class OrchestratorSettings(DatabaseSettings, StreamSettings):
    # Committed tasks older than this and still unpublished are republished by the reconciler.
    republish_after_seconds: float = 5.0
    reconcile_interval_seconds: float = 2.0
    # A task not finished this long after acceptance is failed ("timed out").
    task_timeout_seconds: float = 300.0
    # A step (or task) message published this long ago and still not picked up is published
    # again: it may have been lost with a Redis that died between two fsyncs. Duplicates are
    # harmless (every effect is idempotent), so this errs on the side of republishing.
    redeliver_after_seconds: float = 120.0


class WorkerSettings(StreamSettings):
    memory_url: str
    model_url: str
    model_name: str = "stackyard-sim-1"
    model_api_key: str = ""
    concurrency: int = 8
    request_timeout_seconds: float = 30.0
    step_timeout_seconds: float = 60.0
    # Messages of session history a chat turn sends the model: the newest this many (a bounded
    # read, so a turn's cost does not grow with the session). Memory serves at most 1,000.
    history_window: int = Field(20, ge=1, le=1000)
    # Fault injection for load and failure tests: this share of steps fails (task → failed).
    failure_rate: float = Field(0.0, ge=0.0, le=1.0)
    # Fault injection: a step whose input contains this text always raises (a poison message).
    poison_input: str = ""

    @model_validator(mode="after")
    def faults_only_in_dev(self) -> "WorkerSettings":
        if (self.failure_rate or self.poison_input) and self.stage not in DEV_STAGES:
            raise ValueError(f"fault injection is for {DEV_STAGES} only, not {self.stage!r}")
        return self


class MemorySettings(DatabaseSettings):
    pass


class ModelSettings(ServiceSettings):
    model_name: str = "stackyard-sim-1"
    # Simulated LLM: time to first token, then a steady token rate.
    first_token_ms: float = 50.0
    tokens_per_second: float = 200.0
    # CPU burnt per generated token, to make the model scale on CPU like a real one.
    cpu_ms_per_token: float = 0.0
