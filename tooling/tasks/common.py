"""What every task shares: the repo root, config loading, and errors turned into clean exits."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from invoke.exceptions import Exit

from tooling import config as config_module
from tooling.cli.run import CommandError, ToolMissing
from tooling.errors import StackyardError

ROOT = Path(__file__).resolve().parents[2]
F = TypeVar("F", bound=Callable[..., Any])


def load_config(stage: str, overrides: dict[str, Any] | None = None) -> config_module.StackConfig:
    return config_module.load(stage, config_module.envs_dir(ROOT), overrides=overrides)


def load_secrets(cfg: config_module.StackConfig) -> config_module.Secrets:
    return config_module.load_secrets(cfg, config_module.envs_dir(ROOT))


def friendly(task_function: F) -> F:
    """Turn toolkit errors into `Exit` with the message and what to do next (exit code 1)."""

    @functools.wraps(task_function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task_function(*args, **kwargs)
        except (StackyardError, CommandError, ToolMissing) as error:
            print(f"✗ {error}", file=sys.stderr)
            raise Exit(code=1) from error
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None

    return wrapper  # type: ignore[return-value]


def parse_scale(values: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not count.isdigit():
            raise StackyardError(f"--scale {value!r} is not SERVICE=N", "e.g. --scale worker=3")
        scale[name] = int(count)
    return scale
