"""`inv doctor`: every precondition of `inv up`, checked, each failure with its fix."""

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from tooling.cli import docker as docker_cli
from tooling.errors import StackyardError

MIN_FREE_GB = 5


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _probe(name: str, action: object) -> Check:
    try:
        detail = action()  # type: ignore[operator]
        return Check(name, True, str(detail or "ok"))
    except StackyardError as error:
        return Check(name, False, error.message, error.hint)


def _disk(root: Path) -> str:
    free = shutil.disk_usage(root).free / 1e9
    if free < MIN_FREE_GB:
        raise StackyardError(f"only {free:.1f} GB free under {root}",
                             f"free at least {MIN_FREE_GB} GB (images and volumes need it); `docker system prune`")
    return f"{free:.0f} GB free"


def _debootstrap() -> str:
    if shutil.which("debootstrap"):
        return "installed"
    return "not installed (installed automatically when the base image is bootstrapped as root)"


def _engine() -> str:
    docker_cli.check_engine()
    return "reachable"


def run_checks(root: Path) -> list[Check]:
    return [
        _probe("docker engine", _engine),
        _probe("docker compose v2", docker_cli.check_compose),
        _probe("disk space", lambda: _disk(root)),
        _probe("debootstrap", _debootstrap),
    ]


def report(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'✓' if check.ok else '✗'} {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"    → {check.fix}")
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    return json.dumps([asdict(c) for c in checks], indent=2)
