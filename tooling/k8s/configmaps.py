"""config → each component's ConfigMap values and the stack's Secret, from the one mapping."""

from tooling.compose_env import secret_values
from tooling.config import Secrets, StackConfig, mapping

# The Secret the stack reads; created by `inv cluster` / the deploy from envs/<stage>.env or the
# environment, never rendered into a file.
SECRET_NAME = "stackyard-secrets"
SECRET_KEYS = ("postgres-password", *mapping.SECRETS.values())


def config_maps(config: StackConfig) -> dict[str, dict[str, str]]:
    """The values from envs/ each component's ConfigMap gets, keyed by component.

    Every mapped setting a component reads (tooling/config/mapping.py), under the variable its
    service reads; the layout (service URLs, drain time) is in deploy/orchestration/base."""
    return {**mapping.service_envs(config),
            "postgres": {"POSTGRES_USER": config.postgres.user, "POSTGRES_DB": config.postgres.database}}


def secret_data(config: StackConfig, secrets: Secrets) -> dict[str, str]:
    """The Secret's keys (SECRET_KEYS), built from the validated config and secrets."""
    values = secret_values(config, secrets)
    return {"postgres-password": secrets.postgres_password,
            **{key: values[field] for field, key in mapping.SECRETS.items()}}
