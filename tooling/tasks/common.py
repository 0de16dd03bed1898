"""What every task shares: the repo root, config loading, and errors turned into clean exits."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from invoke.exceptions import Exit

from tooling import errors
from tooling.errors import StackyardError

if TYPE_CHECKING:
    from tooling import config as config_module

ROOT = Path(__file__).resolve().parents[2]
F = TypeVar("F", bound=Callable[..., Any])


# tooling.config (pydantic) is imported by the tasks that load config, not by `inv --list`.
def load_config(stage: str, overrides: dict[str, Any] | None = None) -> config_module.StackConfig:
    from tooling import config as config_module

    return config_module.load(stage, config_module.envs_dir(ROOT), overrides=overrides)


def load_secrets(cfg: config_module.StackConfig) -> config_module.Secrets:
    from tooling import config as config_module

    return config_module.load_secrets(cfg, config_module.envs_dir(ROOT))


@overload
def friendly(task_function: F) -> F: ...
@overload
def friendly(*, could_not_start: int = errors.EXIT_FAILED) -> Callable[[F], F]: ...
def friendly(task_function: F | None = None, *, could_not_start: int = errors.EXIT_FAILED) -> Any:
    """Turn toolkit errors into `Exit` with the message and what to do next.

    The one exit-code policy (tooling/errors.py): a StackyardError exits 1, or
    `could_not_start` for tasks whose scripts tell "failed" from "could not start" (loadtest: 2).
    Use as `@friendly` or `@friendly(could_not_start=2)`."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except errors.StackyardError as error:
                print(f"✗ {error}", file=sys.stderr)
                raise Exit(code=could_not_start) from error
            except KeyboardInterrupt:
                raise Exit("interrupted", code=errors.EXIT_INTERRUPTED) from None

        return wrapper  # type: ignore[return-value]

    return decorate(task_function) if task_function is not None else decorate


def parse_scale(values: list[str]) -> dict[str, int]:
    scale: dict[str, int] = {}
    for value in values:
        name, sep, count = value.partition("=")
        if not sep or not count.isdigit():
            raise StackyardError(f"--scale {value!r} is not SERVICE=N", "e.g. --scale worker=3")
        scale[name] = int(count)
    return scale


# The optional-dependency group (pyproject.toml) each kind of task needs, and a module that shows it is there.
EXTRAS = {"k8s": "kubernetes_validate", "load": "locust"}


def require_extra(extra: str, task: str) -> None:
    """Stop with what to install when the task's extra is missing (`./dev up` installs only the core)."""
    from tooling.cli import python

    python.require_module(EXTRAS[extra], f"the {extra} extra of the toolkit",
                          f"run `./dev {task}` (it installs the extra), or `.venv/bin/pip install -e '.[{extra}]'`")
