"""The one mapping: which service setting each config key becomes, on every target.

Every target's environment is rendered from SETTINGS — the compose env files
(tooling/compose_env.py) and each component's ConfigMap (tooling/k8s/configmaps.py), and
delivery renders from the same. Who reads a setting is not written down: it is every component
whose settings class (services/stackyard/common/settings.py) has the field, so a service that
starts reading a setting gets it everywhere without a second edit.

Every other settings field, and every config key no service reads, is declared once below with
where its value comes from instead; tests/unit/test_config_mapping.py fails on anything left
out, and `inv k8s.validate` fails when a mapped value does not reach a reader on some target.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tooling.config.load import ConfigError
from tooling.config.schema import StackConfig

COMPONENTS = ("gateway", "orchestrator", "worker", "memory", "model")
SETTINGS_CLASSES = {
    "gateway": "GatewaySettings",
    "orchestrator": "OrchestratorSettings",
    "worker": "WorkerSettings",
    "memory": "MemorySettings",
    "model": "ModelSettings",
}
# The services read STACKYARD_<FIELD> (ServiceSettings: env_prefix="STACKYARD_").
SERVICE_ENV_PREFIX = "STACKYARD_"


@dataclass(frozen=True)
class Setting:
    key: str    # dotted key in envs/*.yaml
    field: str  # the settings field the services read

    @property
    def variable(self) -> str:
        return SERVICE_ENV_PREFIX + self.field.upper()


SETTINGS = (
    Setting("stage", "stage"),
    Setting("log_level", "log_level"),
    Setting("gateway.require_api_key", "require_api_key"),
    Setting("gateway.max_body_bytes", "max_body_bytes"),
    Setting("gateway.max_input_chars", "max_input_chars"),
    Setting("gateway.max_backlog", "max_backlog"),
    Setting("gateway.rate_limit_per_second", "rate_limit_per_second"),
    Setting("model.name", "model_name"),
    Setting("model.first_token_ms", "first_token_ms"),
    Setting("model.tokens_per_second", "tokens_per_second"),
    Setting("model.cpu_ms_per_token", "cpu_ms_per_token"),
    Setting("worker.concurrency", "concurrency"),
    Setting("worker.failure_rate", "failure_rate"),
    Setting("worker.poison_input", "poison_input"),
    Setting("worker.step_timeout_seconds", "step_timeout_seconds"),
    Setting("worker.history_window", "history_window"),
    Setting("delivery.claim_idle_ms", "claim_idle_ms"),
    Setting("delivery.max_deliveries", "max_deliveries"),
    Setting("delivery.task_timeout_seconds", "task_timeout_seconds"),
)

# Settings fields that do not come from envs/, each with where its value comes from instead.
LAYOUT = {  # fixed by the topology, the same on every stage
    "host": "the service default (0.0.0.0): every target reaches services by container/pod address",
    "port": "the service default (8000): compose and the Services in deploy/orchestration/base target it",
    "redis_url": "docker-compose.yml `environment:` and base/kustomization.yaml (redis://redis:6379/0)",
    "memory_url": "docker-compose.yml `environment:` and base/kustomization.yaml (http://memory:8000)",
    "model_url": "docker-compose.yml `environment:` and base/kustomization.yaml (http://model:8000)",
}
# Secret fields → the key in the stackyard-secrets Secret (compose: the component's env file).
SECRETS = {"database_url": "database-url", "api_keys": "api-keys"}
# Differs per target on purpose.
PER_TARGET = {
    "drain_seconds": "compose: the service default (10 s) inside stop_grace_period 15s; Kubernetes: "
                     "base/kustomization.yaml per Deployment (worker 35 s, for a model call in flight), "
                     "paired with terminationGracePeriodSeconds — `inv k8s.validate` checks the pair",
}
# Internal to the services: not a deployment choice, so the service's own default stands.
SERVICE_DEFAULTS = {
    "startup_timeout_seconds": "how long a service waits for its dependencies at start",
    "database_pool_size": "sized to one service process",
    "tasks_stream": "stream names are the services' wire contract",
    "steps_stream": "stream names are the services' wire contract",
    "results_stream": "stream names are the services' wire contract",
    "dead_letter_stream": "stream names are the services' wire contract",
    "events_prefix": "stream names are the services' wire contract",
    "agents": "the agents the worker image implements",
    "republish_after_seconds": "reconciler timing, tied to the outbox design",
    "reconcile_interval_seconds": "reconciler timing, tied to the outbox design",
    "redeliver_after_seconds": "reconciler timing, tied to the outbox design",
    "request_timeout_seconds": "the worker's HTTP client timeout towards memory and the model",
    "model_api_key": "the simulated model needs none; a real one arrives with the delivery secrets",
}
# Config keys (or whole sections) no service reads, with who reads them.
TOOLKIT_KEYS = {
    "images": "image builds (tooling/images.py)",
    "gateway.port": "compose only: the host port the edge publishes; kind: overlays/kind NodePort",
    "worker.replicas": "compose only: the worker scale; on Kubernetes the HPA owns the count",
    "compose": "compose only: project name and start timeout (tooling/compose.py)",
    "postgres": "the postgres container's environment and the database_url secret on every target",
    "monitoring": "Prometheus/Alertmanager rendering (tooling/monitoring/)",
    "loadtest": "`inv loadtest` and friends (tooling/loadtest/)",
}


@lru_cache(maxsize=len(COMPONENTS))
def settings_class(component: str) -> Any:
    """The component's settings class, imported from the services package."""
    try:
        from stackyard.common import settings
    except ImportError as error:
        raise ConfigError(f"the services package is not importable ({error})",
                          "run `./dev` to install it into .venv (pip install -e ./services)") from error
    return getattr(settings, SETTINGS_CLASSES[component])


def fields_of(component: str) -> frozenset[str]:
    return frozenset(settings_class(component).model_fields)


def readers(field: str) -> tuple[str, ...]:
    """The components whose settings class has `field`."""
    return tuple(c for c in COMPONENTS if field in fields_of(c))


def value_of(config: StackConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def encode(value: Any) -> str:
    """A config value as the services' settings parse it from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def service_env(config: StackConfig, component: str) -> dict[str, str]:
    """STACKYARD_<FIELD> → value for every mapped setting `component` reads."""
    fields = fields_of(component)
    return {s.variable: encode(value_of(config, s.key)) for s in SETTINGS if s.field in fields}


def service_envs(config: StackConfig) -> dict[str, dict[str, str]]:
    return {component: service_env(config, component) for component in COMPONENTS}


def secret_fields(component: str) -> tuple[str, ...]:
    return tuple(f for f in SECRETS if f in fields_of(component))


def setting_for(variable: str) -> Setting | None:
    return next((s for s in SETTINGS if s.variable == variable), None)
