"""One validated config object per stage, and where each of its values came from.

Precedence, lowest first:
  1. envs/base.yaml (every key, with its value: the models in schema.py have no defaults)
  2. envs/<stage>.yaml (only what differs for that stage)
  3. environment variables STACKYARD__<SECTION>__<KEY> (e.g. STACKYARD__GATEWAY__PORT=8081)
  4. overrides passed by a task from its CLI flags (dotted keys: gateway.port)
Secrets never live in the YAML files: they come from the environment or from the untracked
envs/<stage>.env (see envs/<stage>.env.example); only dev stages have built-in dev values.
Any error names the file (or variable) and the key.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tooling.config.schema import DEV_STAGES, STAGES, Secrets, StackConfig
from tooling.errors import StackyardError

ENV_PREFIX = "STACKYARD__"
DEV_POSTGRES_PASSWORD = "stackyard-dev-only"

Path_ = tuple[str, ...]


class ConfigError(StackyardError):
    pass


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a file and line, an environment variable, a flag."""
    source: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


def _key_lines(node: yaml.Node, prefix: Path_ = ()) -> dict[Path_, int]:
    lines: dict[Path_, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, str(key_node.value))
            lines[path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, path))
    return lines


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[Path_, int]]:
    text = path.read_text()
    try:
        data = yaml.safe_load(text) or {}
        node = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(error, 'problem', error)}",
                          "fix the syntax in that file") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}",
                          "see envs/base.yaml for the expected shape")
    return data, _key_lines(node) if node is not None else {}


def _merge(into: dict[str, Any], layer: dict[str, Any], origin_of: Any,
           origins: dict[Path_, Origin], prefix: Path_ = ()) -> None:
    """Deep-merge `layer` into `into`; record `origin_of(path)` for every key it sets."""
    for key, value in layer.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin_of, origins, path)
            continue
        into[key] = value
        origins[path] = origin_of(path)
        if isinstance(value, dict):
            for sub in _leaves(value, path):
                origins[sub] = origin_of(sub)


def _leaves(data: dict[str, Any], prefix: Path_) -> list[Path_]:
    paths: list[Path_] = []
    for key, value in data.items():
        path = (*prefix, str(key))
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_leaves(value, path))
    return paths


def _env_layer(environ: dict[str, str]) -> dict[Path_, Any]:
    layer: dict[Path_, Any] = {}
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX):
            path = tuple(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
            layer[path] = yaml.safe_load(raw) if raw else raw  # "8081" → 8081, "true" → True
    return layer


def env_variable(key: str) -> str:
    """The environment variable that sets a dotted config key: gateway.port → STACKYARD__GATEWAY__PORT."""
    return ENV_PREFIX + "__".join(part.upper() for part in key.split("."))


def _nest(flat: dict[Path_, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        cursor = nested
        for part in path[:-1]:
            cursor = cursor.setdefault(part, {})
        cursor[path[-1]] = value
    return nested


def origin_of(origins: dict[Path_, Origin], loc: Path_) -> Origin:
    """The most specific recorded origin of a key (a whole section set at once counts for its keys)."""
    for length in range(len(loc), 0, -1):
        if loc[:length] in origins:
            return origins[loc[:length]]
    return Origin("built in")


def envs_dir(root: Path) -> Path:
    return Path(os.environ.get("STACKYARD_ENVS_DIR") or root / "envs")


def load_with_origins(stage: str, directory: Path, *, environ: dict[str, str] | None = None,
                      overrides: dict[str, Any] | None = None) -> tuple[StackConfig, dict[Path_, Origin]]:
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}", f"use one of: {', '.join(STAGES)}")
    environ = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = {}
    origins: dict[Path_, Origin] = {}
    for path in (directory / "base.yaml", directory / f"{stage}.yaml"):
        if not path.exists():
            raise ConfigError(f"{path} is missing", f"create it (every stage in {STAGES} has a file in envs/)")
        data, lines = _read_yaml(path)
        _merge(merged, data, lambda key, path=path, lines=lines: Origin(str(path), lines.get(key)), origins)
    env_layer = _env_layer(environ)
    _merge(merged, _nest(env_layer),
           lambda key: Origin(f"environment variable {env_variable('.'.join(key))}"), origins)
    if overrides:
        _merge(merged, _nest({tuple(k.split(".")): v for k, v in overrides.items()}),
               lambda key: Origin(f"command-line flag ({'.'.join(key)})"), origins)
    merged["stage"] = stage
    origins[("stage",)] = Origin(f"the stage chosen (--stage {stage})")
    try:
        return StackConfig.model_validate(merged), origins
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = tuple(str(part) for part in item["loc"])
            key = ".".join(loc)
            message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
            if item["type"] == "missing":
                message = "missing (every key has its value in envs/base.yaml)"
            origin = origin_of(origins, loc)
            line = f" (line {origin.line})" if origin.line else ""
            problems.append(f"{origin.source}: {key}: {message}{line}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems),
                          "fix the key named above (envs/base.yaml lists every known key)") from error


def load(stage: str, directory: Path, *, environ: dict[str, str] | None = None,
         overrides: dict[str, Any] | None = None) -> StackConfig:
    return load_with_origins(stage, directory, environ=environ, overrides=overrides)[0]


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
