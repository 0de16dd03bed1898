"""The toolkit's own interpreter running a module: `pip download`, `pytest`, `locust`, through the seam."""

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tooling.cli import run as seam


def pip_download(args: Sequence[str], *, timeout: float) -> None:
    """`python -m pip download ARGS...` with this interpreter."""
    seam.run([sys.executable, "-m", "pip", "download", *args], timeout=timeout)


def pytest(args: Sequence[str], *, cwd: Path) -> None:
    """`python -m pytest ARGS...` in `cwd`, its output straight to the terminal.

    A failing run raises CommandError; its returncode is pytest's exit code."""
    seam.run([sys.executable, "-m", "pytest", *args], cwd=str(cwd), capture=False)


def locust(args: Sequence[str], *, env: Mapping[str, str], cwd: Path, timeout: float) -> None:
    """`python -m locust ARGS...` as its own process (locust monkey-patches whoever imports it,
    with gevent); `env` is added to this process's environment for that one command."""
    seam.run([sys.executable, "-m", "locust", *args], env=dict(env), cwd=str(cwd), timeout=timeout)
