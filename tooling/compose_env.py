"""config → what docker compose reads: one env file per component, and the project's env file.

Component files (.stackyard/compose/<project>/<component>.env) hold the component's settings,
rendered from the one mapping (tooling/config/mapping.py) under the names the service reads, and
its secrets; docker-compose.yml loads them with `env_file:` and renames nothing. The project file
(.stackyard/compose/<project>.env, passed as --env-file) holds only what the compose file itself
interpolates: image references, the project name, host ports, the worker scale, postgres's
max_connections.
"""

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from tooling import monitoring
from tooling.config import Secrets, StackConfig, mapping
from tooling.errors import StackyardError
from tooling.images import ImagePlan

COMPOSE_FILE = "docker-compose.yml"
ENV_DIR = ".stackyard/compose"


def database_url(config: StackConfig, secrets: Secrets, host: str = "postgres") -> str:
    pg = config.postgres
    return (f"postgresql://{quote(pg.user, safe='')}:{quote(secrets.postgres_password, safe='')}"
            f"@{host}:5432/{pg.database}")


def secret_values(config: StackConfig, secrets: Secrets) -> dict[str, str]:
    """Each secret settings field's value (mapping.SECRETS), as the services parse it."""
    return {"database_url": database_url(config, secrets), "api_keys": json.dumps(list(secrets.api_keys))}


def component_envs(config: StackConfig, secrets: Secrets) -> dict[str, dict[str, str]]:
    """Every component's env file, plus postgres's (the image's own variable names)."""
    values = secret_values(config, secrets)
    envs = {
        component: {**mapping.service_env(config, component),
                    **{mapping.SERVICE_ENV_PREFIX + f.upper(): values[f] for f in mapping.secret_fields(component)}}
        for component in mapping.COMPONENTS
    }
    envs["postgres"] = {"POSTGRES_USER": config.postgres.user, "POSTGRES_DB": config.postgres.database,
                        "POSTGRES_PASSWORD": secrets.postgres_password}
    return envs


def project_env(config: StackConfig, plan: ImagePlan) -> dict[str, str]:
    infra_images = {f"STACKYARD_{name.upper()}_IMAGE": ref for name, ref in plan.infra.items()}
    return {
        **infra_images,
        "STACKYARD_PROJECT": config.compose.project_name,
        "STACKYARD_REPOSITORY": config.images.repository,
        "STACKYARD_TAG": plan.tag,
        "STACKYARD_GATEWAY_PORT": str(config.gateway.port),
        "STACKYARD_WORKER_REPLICAS": str(config.worker.replicas),
        "STACKYARD_POSTGRES_MAX_CONNECTIONS": str(config.postgres.max_connections),
        **monitoring.compose_env(config, plan.base),
    }


def env_file_path(root: Path, config: StackConfig) -> Path:
    return root / ENV_DIR / f"{config.compose.project_name}.env"


def component_dir(root: Path, config: StackConfig) -> Path:
    return root / ENV_DIR / config.compose.project_name


def write_env_file(path: Path, env: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}='{value}'" for name, value in sorted(env.items()) if "'" not in value]
    if len(lines) != len(env):
        bad = sorted(name for name, value in env.items() if "'" in value)
        raise StackyardError(f"a configuration value contains a single quote ({', '.join(bad)})",
                             "remove it from the value")
    path.touch(mode=0o600)
    path.chmod(0o600)  # component files hold the database password
    path.write_text("# rendered by `inv up` from envs/ — do not edit\n" + "\n".join(lines) + "\n")
    return path


def write(root: Path, config: StackConfig, secrets: Secrets, plan: ImagePlan) -> Path:
    """Render every env file; return the project's (compose's --env-file)."""
    for component, env in component_envs(config, secrets).items():
        write_env_file(component_dir(root, config) / f"{component}.env", env)
    return write_env_file(env_file_path(root, config), project_env(config, plan))


def _env_files(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file") or []
    entries = [files] if isinstance(files, str | dict) else files
    return [str(e["path"] if isinstance(e, dict) else e) for e in entries]


def parity_problems(compose_text: str, config: StackConfig, secrets: Secrets) -> list[tuple[str, str]]:
    """(service, message) for each setting that would not reach a reader under compose.

    Compose gives `environment:` precedence over `env_file:`, so a mapped variable written into
    the compose file would shadow the config; a service without its env file gets no settings."""
    services = (yaml.safe_load(compose_text) or {}).get("services") or {}
    problems = []
    for component, env in component_envs(config, secrets).items():
        service = services.get(component)
        if service is None:
            problems.append((component, f"{COMPOSE_FILE} has no service {component}"))
            continue
        expected = f"{ENV_DIR}/${{STACKYARD_PROJECT:?}}/{component}.env"
        if expected not in _env_files(service):
            problems.append((component, f"{', '.join(_keys_of(env))} do not reach {component} under compose: "
                                        f"the service does not load {expected} (env_file:)"))
        environment = service.get("environment") or {}
        names = environment if isinstance(environment, dict) else [e.split("=", 1)[0] for e in environment]
        for name in sorted(set(names) & set(env)):
            problems.append((component, f"{_keys_of({name: ''})[0]} does not reach {component} under compose: "
                                        f"{COMPOSE_FILE} sets {name} in `environment:`, which shadows the env "
                                        "file rendered from envs/ — remove it there"))
    return problems


def _keys_of(env: dict[str, str]) -> list[str]:
    keys = []
    for variable in env:
        setting = mapping.setting_for(variable)
        keys.append(setting.key if setting else variable)
    return keys
