"""One validated config object per stage.

Precedence, lowest first:
  1. defaults in the models below
  2. envs/base.yaml
  3. envs/<stage>.yaml
  4. environment variables STACKYARD__<SECTION>__<KEY> (e.g. STACKYARD__GATEWAY__PORT=8081)
  5. overrides passed by a task from its CLI flags
Secrets never live in the YAML files: they come from the environment or from the untracked
envs/<stage>.env (see envs/<stage>.env.example); only dev stages have built-in dev values.
Any error names the file (or variable) and the key.
"""

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tooling.errors import StackyardError

STAGES = ("dev", "ci", "kind", "staging", "production")
DEV_STAGES = ("dev", "ci")
ENV_PREFIX = "STACKYARD__"
DEV_POSTGRES_PASSWORD = "stackyard-dev-only"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class UpstreamImages(Strict):
    python: str = "python:3.11-slim-bookworm"
    redis: str = "redis:7.0-bookworm"
    postgres: str = "postgres:15-bookworm"
    edge: str = "nginx:1.27-bookworm"
    prometheus: str = "prom/prometheus:v2.53.4"
    alertmanager: str = "prom/alertmanager:v0.27.0"
    grafana: str = "grafana/grafana:11.5.2"


class ImagesConfig(Strict):
    source: Literal["auto", "upstream", "bootstrap"] = "auto"
    repository: str = Field("stackyard", pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    suite: str = "bookworm"
    debian_mirror: str = "http://deb.debian.org/debian"
    upstream: UpstreamImages = UpstreamImages()


class GatewayConfig(Strict):
    port: int = Field(8080, ge=1, le=65535)
    require_api_key: bool = True
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_input_chars: int = Field(32_000, ge=1)
    max_backlog: int = Field(5_000, ge=1)           # 429 above this many queued steps and tasks
    rate_limit_per_second: int = Field(0, ge=0)     # per API key; 0 = unlimited


class ModelConfig(Strict):
    name: str = "stackyard-sim-1"
    first_token_ms: float = Field(50.0, ge=0)
    tokens_per_second: float = Field(200.0, ge=0)
    cpu_ms_per_token: float = Field(0.0, ge=0)   # CPU burnt per token: the model scales on CPU


class WorkerConfig(Strict):
    replicas: int = Field(1, ge=1, le=64)
    concurrency: int = Field(8, ge=1, le=256)
    failure_rate: float = Field(0.0, ge=0.0, le=1.0)  # fault injection: share of steps that fail
    poison_input: str = ""                              # fault injection: steps containing it always raise
    step_timeout_seconds: float = Field(60.0, gt=0)


class DeliveryConfig(Strict):
    """At-least-once delivery over Redis Streams (see services/stackyard/common/streams.py)."""
    claim_idle_ms: int = Field(15_000, ge=100)      # unacknowledged this long → delivered again
    max_deliveries: int = Field(5, ge=1)            # then dead-lettered and the task fails
    task_timeout_seconds: float = Field(300.0, gt=0)


class ComposeConfig(Strict):
    project_name: str = Field("stackyard", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    wait_timeout_seconds: int = Field(180, ge=5)


class MonitoringConfig(Strict):
    """Prometheus, Alertmanager (and Grafana where its image exists) under `inv up --monitoring`."""
    prometheus_port: int = Field(9090, ge=1, le=65535)
    alertmanager_port: int = Field(9093, ge=1, le=65535)
    receiver_port: int = Field(9095, ge=1, le=65535)
    grafana_port: int = Field(3000, ge=1, le=65535)
    grafana: Literal["auto", "always", "never"] = "auto"  # not on/off: YAML reads those as booleans
    scrape_interval: str = Field("15s", pattern=r"^[1-9][0-9]*(ms|s|m|h)$")
    evaluation_interval: str = Field("15s", pattern=r"^[1-9][0-9]*(ms|s|m|h)$")
    # SLO alert windows and `for:` are divided by this (1 = production; ci compresses time).
    slo_time_scale: int = Field(1, ge=1, le=3600)
    group_wait: str = Field("30s", pattern=r"^[1-9][0-9]*(ms|s|m|h)$")
    group_interval: str = Field("5m", pattern=r"^[1-9][0-9]*(ms|s|m|h)$")


class PostgresConfig(Strict):
    user: str = "stackyard"
    database: str = "stackyard"


class LoadProfile(Strict):
    users: int = Field(ge=1, le=10_000)
    spawn_rate: float = Field(gt=0)
    duration_seconds: int = Field(ge=1, le=86_400)
    min_tasks_per_second: float = Field(0.0, ge=0)  # throughput SLO of this profile (completed tasks/s)


class LoadProfiles(Strict):
    smoke: LoadProfile = LoadProfile(users=5, spawn_rate=5, duration_seconds=20, min_tasks_per_second=1)
    step: LoadProfile = LoadProfile(users=30, spawn_rate=5, duration_seconds=210, min_tasks_per_second=2)
    spike: LoadProfile = LoadProfile(users=40, spawn_rate=5, duration_seconds=120, min_tasks_per_second=2)
    soak: LoadProfile = LoadProfile(users=10, spawn_rate=2, duration_seconds=1800, min_tasks_per_second=2)


class LoadSlo(Strict):
    accept_p50_ms: float = Field(100.0, gt=0)  # POST /v1/tasks answered (202)
    accept_p95_ms: float = Field(500.0, gt=0)
    accept_p99_ms: float = Field(1000.0, gt=0)
    completion_p95_ms: float = Field(2000.0, gt=0)  # submit → completed, as the client sees it
    max_error_rate: float = Field(0.01, ge=0, le=1)  # of HTTP requests, and of tasks, each


class ScalingSlo(Strict):
    """Cluster runs: `component` reaches `min_replicas` within the first seconds of load, and is back
    at its HPA minimum within `scale_in_within_seconds` of the load ending."""
    component: str = "worker"
    min_replicas: int = Field(2, ge=1)
    scale_out_within_seconds: float = Field(180.0, gt=0)
    scale_in_within_seconds: float = Field(420.0, gt=0)


class ScalingRun(Strict):
    """`inv loadtest.scaling` on compose: I/O-bound agents (few model calls in flight per worker, a
    slow model), so completed tasks/s measures how work spreads over workers, not this machine's CPU."""
    worker_concurrency: int = Field(2, ge=1, le=256)
    model_first_token_ms: float = Field(500.0, ge=0)
    users: int = Field(16, ge=1, le=1000)
    duration_seconds: int = Field(30, ge=5)
    warmup_seconds: int = Field(8, ge=0)
    poll_interval_seconds: float = Field(0.5, gt=0)


class CapacityPlanning(Strict):
    target_utilization: float = Field(0.7, gt=0, le=1)  # HPA targets and sizing leave this much room
    headroom: float = Field(1.5, ge=1)  # maxReplicas = needed × headroom
    staging_share: float = Field(0.25, gt=0, le=1)  # staging is sized for this share of the target load
    production_min_replicas: int = Field(2, ge=1)


class LoadtestConfig(Strict):
    profiles: LoadProfiles = LoadProfiles()
    slo: LoadSlo = LoadSlo()
    poll_interval_seconds: float = Field(0.1, gt=0)
    task_timeout_seconds: float = Field(60.0, gt=0)
    sample_interval_seconds: float = Field(5.0, gt=0)
    generator_cpu_limit: float = Field(0.9, gt=0, le=1)  # share of one core: above it, locust is the bottleneck
    scaling_slo: ScalingSlo = ScalingSlo()
    scaling_run: ScalingRun = ScalingRun()
    capacity: CapacityPlanning = CapacityPlanning()


class StackConfig(Strict):
    stage: Literal["dev", "ci", "kind", "staging", "production"]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    images: ImagesConfig = ImagesConfig()
    gateway: GatewayConfig = GatewayConfig()
    model: ModelConfig = ModelConfig()
    worker: WorkerConfig = WorkerConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    compose: ComposeConfig = ComposeConfig()
    postgres: PostgresConfig = PostgresConfig()
    loadtest: LoadtestConfig = LoadtestConfig()
    monitoring: MonitoringConfig = MonitoringConfig()


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True)
    postgres_password: str
    api_keys: tuple[str, ...] = ()


class ConfigError(StackyardError):
    pass


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(error, 'problem', error)}",
                          "fix the syntax in that file") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}",
                          "see envs/base.yaml for the expected shape")
    return data


def _merge(into: dict[str, Any], layer: dict[str, Any], source: str,
           origins: dict[tuple[str, ...], str], prefix: tuple[str, ...] = ()) -> None:
    for key, value in layer.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, source, origins, path)
        else:
            into[key] = value
            origins[path] = source
            if isinstance(value, dict):
                for sub in _leaves(value, path):
                    origins[sub] = source


def _leaves(data: dict[str, Any], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in data.items():
        path = (*prefix, str(key))
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_leaves(value, path))
    return paths


def _env_layer(environ: dict[str, str]) -> dict[tuple[str, ...], Any]:
    layer: dict[tuple[str, ...], Any] = {}
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX):
            path = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
            layer[path] = yaml.safe_load(raw) if raw else raw  # "8081" → 8081, "true" → True
    return layer


def _nest(flat: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        cursor = nested
        for part in path[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[path[-1]] = value
    return nested


def _origin(origins: dict[tuple[str, ...], str], loc: tuple[str, ...]) -> str:
    for length in range(len(loc), 0, -1):
        if loc[:length] in origins:
            return origins[loc[:length]]
    return "defaults"


def envs_dir(root: Path) -> Path:
    return Path(os.environ.get("STACKYARD_ENVS_DIR") or root / "envs")


def load(stage: str, directory: Path, *, environ: dict[str, str] | None = None,
         overrides: dict[str, Any] | None = None) -> StackConfig:
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}", f"use one of: {', '.join(STAGES)}")
    environ = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for path in (directory / "base.yaml", directory / f"{stage}.yaml"):
        if not path.exists():
            raise ConfigError(f"{path} is missing", f"create it (every stage in {STAGES} has a file in envs/)")
        _merge(merged, _read_yaml(path), str(path), origins)
    env_layer = _env_layer(environ)
    for path_key in env_layer:
        origins[path_key] = f"environment variable {ENV_PREFIX}{'__'.join(p.upper() for p in path_key)}"
    _merge(merged, _nest(env_layer), "environment", {})
    if overrides:
        _merge(merged, _nest({tuple(k.split(".")): v for k, v in overrides.items()}), "command line", origins)
        for key in overrides:
            origins[tuple(key.split("."))] = f"command-line flag ({key})"
    merged["stage"] = stage
    try:
        return StackConfig.model_validate(merged)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = tuple(str(part) for part in item["loc"])
            key = ".".join(loc)
            message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
            problems.append(f"{_origin(origins, loc)}: {key}: {message}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems),
                          "fix the key named above (envs/base.yaml lists every known key)") from error


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected NAME=value", "fix or remove that line")
        values[name.strip()] = value.strip().strip('"').strip("'")
    return values


def load_secrets(config: StackConfig, directory: Path, *, environ: dict[str, str] | None = None) -> Secrets:
    environ = dict(os.environ if environ is None else environ)
    values = {**_read_env_file(directory / f"{config.stage}.env"), **environ}
    password = values.get("STACKYARD_POSTGRES_PASSWORD", "")
    if not password:
        if config.stage not in DEV_STAGES:
            raise ConfigError(
                f"STACKYARD_POSTGRES_PASSWORD is not set for stage {config.stage!r}",
                f"export it, or put it in {directory / (config.stage + '.env')} "
                f"(see {config.stage}.env.example)",
            )
        password = DEV_POSTGRES_PASSWORD
    keys = tuple(k for k in values.get("STACKYARD_API_KEYS", "").split(",") if k)
    if config.gateway.require_api_key and not keys:
        raise ConfigError(
            f"stage {config.stage!r} requires API keys but STACKYARD_API_KEYS is empty",
            f"export STACKYARD_API_KEYS=key1,key2 or put it in {directory / (config.stage + '.env')}",
        )
    return Secrets(postgres_password=password, api_keys=keys)
