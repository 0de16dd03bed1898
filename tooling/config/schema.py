"""The shape of the toolkit's configuration: types and bounds, no values.

Every value lives once, in envs/base.yaml (and the stage files' differences): the models have no
defaults, so a key missing from envs/base.yaml is an error that names it, never a silent second
default. What each service reads of this is tooling/config/mapping.py.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

STAGES = ("dev", "ci", "kind", "staging", "production")
DEV_STAGES = ("dev", "ci")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class UpstreamImages(Strict):
    python: str
    redis: str
    postgres: str
    edge: str
    prometheus: str
    alertmanager: str
    grafana: str


class ImagesConfig(Strict):
    source: Literal["auto", "upstream", "bootstrap"]
    repository: str = Field(pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    suite: str
    debian_mirror: str
    upstream: UpstreamImages


class GatewayConfig(Strict):
    port: int = Field(ge=1, le=65535)
    require_api_key: bool
    max_body_bytes: int = Field(ge=1024)
    max_input_chars: int = Field(ge=1)
    max_backlog: int = Field(ge=1)           # 429 above this many queued steps and tasks
    rate_limit_per_second: int = Field(ge=0)     # per API key; 0 = unlimited


class ModelConfig(Strict):
    name: str
    first_token_ms: float = Field(ge=0)
    tokens_per_second: float = Field(ge=0)
    cpu_ms_per_token: float = Field(ge=0)   # CPU burnt per token: the model scales on CPU


class WorkerConfig(Strict):
    replicas: int = Field(ge=1, le=64)
    concurrency: int = Field(ge=1, le=256)
    failure_rate: float = Field(ge=0.0, le=1.0)  # fault injection: share of steps that fail
    poison_input: str                              # fault injection: steps containing it always raise
    step_timeout_seconds: float = Field(gt=0)
    history_window: int = Field(ge=1, le=1000)     # messages of session history a chat turn sends


class DeliveryConfig(Strict):
    """At-least-once delivery over Redis Streams (see services/stackyard/common/streams.py)."""
    claim_idle_ms: int = Field(ge=100)      # unacknowledged this long → delivered again
    max_deliveries: int = Field(ge=1)            # then dead-lettered and the task fails
    task_timeout_seconds: float = Field(gt=0)


class ComposeConfig(Strict):
    project_name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    wait_timeout_seconds: int = Field(ge=5)


class MonitoringConfig(Strict):
    """Prometheus, Alertmanager (and Grafana where its image exists) under `inv up --monitoring`."""
    prometheus_port: int = Field(ge=1, le=65535)
    alertmanager_port: int = Field(ge=1, le=65535)
    receiver_port: int = Field(ge=1, le=65535)
    grafana_port: int = Field(ge=1, le=65535)
    grafana: Literal["auto", "always", "never"]  # not on/off: YAML reads those as booleans
    scrape_interval: str = Field(pattern=r"^[1-9][0-9]*(ms|s|m|h)$")
    evaluation_interval: str = Field(pattern=r"^[1-9][0-9]*(ms|s|m|h)$")
    # SLO alert windows and `for:` are divided by this (1 = production; ci compresses time).
    slo_time_scale: int = Field(ge=1, le=3600)
    group_wait: str = Field(pattern=r"^[1-9][0-9]*(ms|s|m|h)$")
    group_interval: str = Field(pattern=r"^[1-9][0-9]*(ms|s|m|h)$")


class PostgresConfig(Strict):
    """The one Postgres and its connection budget (tooling/k8s/connection_budget.py): every pool ×
    its maximum replicas, summed, fits in max_connections − reserve."""
    user: str
    database: str
    # Rendered as `postgres -c max_connections=N` on every target (PostgreSQL's default is 100).
    max_connections: int = Field(ge=10, le=10_000)
    # Kept out of the pools: at least superuser_reserved_connections (3 by default, taken out of
    # max_connections), plus headroom for psql and migrations.
    reserve: int = Field(ge=3)

    @model_validator(mode="after")
    def reserve_below_max(self) -> "PostgresConfig":
        if self.reserve >= self.max_connections:
            raise ValueError(f"postgres.reserve ({self.reserve}) must be below postgres.max_connections "
                             f"({self.max_connections}): nothing would be left for the services' pools")
        return self


class LoadProfile(Strict):
    users: int = Field(ge=1, le=10_000)
    spawn_rate: float = Field(gt=0)
    duration_seconds: int = Field(ge=1, le=86_400)
    min_tasks_per_second: float = Field(ge=0)  # throughput SLO of this profile (completed tasks/s)


class LoadProfiles(Strict):
    smoke: LoadProfile
    step: LoadProfile
    spike: LoadProfile
    soak: LoadProfile


class LoadSlo(Strict):
    accept_p50_ms: float = Field(gt=0)  # POST /v1/tasks answered (202)
    accept_p95_ms: float = Field(gt=0)
    accept_p99_ms: float = Field(gt=0)
    completion_p95_ms: float = Field(gt=0)  # submit → completed, as the client sees it
    max_error_rate: float = Field(ge=0, le=1)  # of HTTP requests, and of tasks, each


class ScalingSlo(Strict):
    """Cluster runs: `component` reaches `min_replicas` within the first seconds of load, and is back
    at its HPA minimum within `scale_in_within_seconds` of the load ending."""
    component: str
    min_replicas: int = Field(ge=1)
    scale_out_within_seconds: float = Field(gt=0)
    scale_in_within_seconds: float = Field(gt=0)


class ScalingRun(Strict):
    """`inv loadtest.scaling` on compose: I/O-bound agents (few model calls in flight per worker, a
    slow model), so completed tasks/s measures how work spreads over workers, not this machine's CPU."""
    worker_concurrency: int = Field(ge=1, le=256)
    model_first_token_ms: float = Field(ge=0)
    users: int = Field(ge=1, le=1000)
    duration_seconds: int = Field(ge=5)
    warmup_seconds: int = Field(ge=0)
    poll_interval_seconds: float = Field(gt=0)


class CapacityPlanning(Strict):
    target_utilization: float = Field(gt=0, le=1)  # HPA targets and sizing leave this much room
    headroom: float = Field(ge=1)  # maxReplicas = needed × headroom
    staging_share: float = Field(gt=0, le=1)  # staging is sized for this share of the target load
    production_min_replicas: int = Field(ge=1)


class Arrival(Strict):
    """How users pace their runs: closed loop (think time after each run) or open loop (a run every
    `user_interval_seconds` whatever the last one took, so the arrival rate is users / interval)."""
    open_loop: bool
    user_interval_seconds: float = Field(gt=0)


class LoadtestConfig(Strict):
    profiles: LoadProfiles
    arrival: Arrival
    slo: LoadSlo
    poll_interval_seconds: float = Field(gt=0)
    task_timeout_seconds: float = Field(gt=0)
    sample_interval_seconds: float = Field(gt=0)
    generator_cpu_limit: float = Field(gt=0, le=1)  # share of one core: above it, locust is the bottleneck
    scaling_slo: ScalingSlo
    scaling_run: ScalingRun
    capacity: CapacityPlanning


class StackConfig(Strict):
    stage: Literal["dev", "ci", "kind", "staging", "production"]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    images: ImagesConfig
    gateway: GatewayConfig
    model: ModelConfig
    worker: WorkerConfig
    delivery: DeliveryConfig
    compose: ComposeConfig
    postgres: PostgresConfig
    loadtest: LoadtestConfig
    monitoring: MonitoringConfig


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True)
    postgres_password: str
    api_keys: tuple[str, ...] = ()
