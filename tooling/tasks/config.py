"""The stack's config: every value with where it came from, and what differs between stages."""

from __future__ import annotations

import json as jsonlib
from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.tasks import task

from tooling import progress
from tooling.errors import StackyardError
from tooling.tasks.common import ROOT, friendly

if TYPE_CHECKING:  # pydantic, imported when a task runs
    from tooling import config as config_module
    from tooling.config import explain


def _load(stage: str, overrides: dict[str, object] | None = None) -> tuple[config_module.StackConfig,
                                                                          explain.Origins]:
    from tooling import config as config_module

    return config_module.load_with_origins(stage, config_module.envs_dir(ROOT), overrides=overrides)


def _overrides(pairs: list[str]) -> dict[str, object]:
    import yaml

    from tooling import config as config_module

    found: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise config_module.ConfigError(f"--set {pair!r} is not KEY=VALUE", "e.g. --set gateway.port=8081")
        found[key] = yaml.safe_load(value) if value else value  # as STACKYARD__* variables are read
    return found


def _text(value: object) -> str:
    return jsonlib.dumps(value) if isinstance(value, str | bool) or value is None else str(value)


@task(help={"stage": "config stage from envs/ (dev, ci, kind, staging, production)",
            "key": "only this key or section (e.g. gateway, or delivery.claim_idle_ms)",
            "set": "KEY=VALUE, repeatable: show the config as a flag that sets KEY would make it",
            "json": "print the rows as JSON on stdout"},
      iterable=["set"])
@friendly
def show(c: Context, stage: str = "dev", key: str = "", set: list[str] | None = None,  # noqa: A002
         json: bool = False) -> None:
    """Every config key of a stage: its value, where it came from (file:line, variable, flag), who reads it.

    Example: `inv config.show --stage kind --key gateway`, `inv config.show --set worker.concurrency=8`."""
    from tooling.config import explain

    rows = explain.show(*_load(stage, _overrides(set or [])), ROOT, prefix=key)
    if not rows:
        raise StackyardError(f"no key {key!r} in the config", "see every key with `inv config.show`")
    if json:
        print(jsonlib.dumps(explain.as_dicts(rows), indent=2))
        return
    print(progress.columns(("KEY", "VALUE", "FROM", "READ BY"),
                           [(r.key, _text(r.value), r.origin, ", ".join(r.read_by)) for r in rows]))


@task(help={"json": "print the rows as JSON on stdout"})
@friendly
def diff(c: Context, a: str, b: str, json: bool = False) -> None:
    """The keys whose values differ between two stages, and where each side's value comes from.

    Example: `inv config.diff dev production`, `inv config.diff staging production --json`."""
    from tooling.config import explain

    rows = explain.diff(_load(a), _load(b), ROOT)
    if json:
        print(jsonlib.dumps(explain.as_dicts(rows), indent=2))
        return
    if not rows:
        print(f"{a} and {b} have the same configuration (apart from the stage)")
        return
    print(progress.columns(("KEY", a.upper(), b.upper(), f"FROM ({a})", f"FROM ({b})"),
                           [(r.key, _text(r.a), _text(r.b), r.origin_a, r.origin_b) for r in rows]))
