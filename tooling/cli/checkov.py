"""checkov (policy checks of Kubernetes manifests), from the toolkit's .venv, through the one run() seam."""

import shutil
import sys
from pathlib import Path

from tooling.cli import run as seam
from tooling.errors import ToolMissing

INSTALL_HINT = "run the task through ./dev, which installs the k8s extra, or `.venv/bin/pip install -e '.[k8s]'`"


def binary() -> str:
    """The checkov installed next to the interpreter (.venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "checkov"
    found = str(beside) if beside.exists() else shutil.which("checkov")
    if not found:
        raise ToolMissing("checkov", INSTALL_HINT)
    return found


def scan(directory: Path, config_file: Path) -> str:
    """`checkov --directory DIR --config-file FILE` offline: its JSON report on stdout.

    Failed checks do not fail the command (--soft-fail): the caller reads them from the report."""
    return seam.run([binary(), "--directory", str(directory), "--config-file", str(config_file),
                     "--output", "json", "--quiet", "--compact", "--soft-fail", "--skip-download"],
                    cwd=str(directory), env={"BC_SKIP_MAPPING": "TRUE"}, timeout=600)
