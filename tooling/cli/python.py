"""The toolkit's own interpreter running a module: `pip download`, `pytest`, `coverage`, `locust`,
through the seam."""

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tooling.cli import run as seam
from tooling.errors import ToolMissing


def require_module(module: str, package: str, install_hint: str) -> None:
    """ToolMissing naming `package` when `module` is not importable by this interpreter."""
    if importlib.util.find_spec(module) is None:
        raise ToolMissing(package, install_hint)


def pip_download(args: Sequence[str], *, timeout: float) -> None:
    """`python -m pip download ARGS...` with this interpreter."""
    seam.run([sys.executable, "-m", "pip", "download", *args], timeout=timeout)


def pytest(args: Sequence[str], *, cwd: Path) -> None:
    """`python -m pytest ARGS...` in `cwd`, its output straight to the terminal.

    A failing run raises CommandError; its returncode is pytest's exit code."""
    seam.run([sys.executable, "-m", "pytest", *args], cwd=str(cwd), capture=False)


def coverage(args: Sequence[str], *, cwd: Path) -> str:
    """`python -m coverage ARGS...` in `cwd` (reads [tool.coverage] from pyproject.toml); its stdout."""
    return seam.run([sys.executable, "-m", "coverage", *args], cwd=str(cwd))


def locust(args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float) -> None:
    """`python -m locust ARGS...` as its own process (locust monkey-patches whoever imports it,
    with gevent); `env` is added to this process's environment for that one command."""
    seam.run([sys.executable, "-m", "locust", *args], env=dict(env), cwd=str(cwd), timeout=timeout)
