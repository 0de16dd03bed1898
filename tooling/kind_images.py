"""Images for the kind cluster: pulls that may take minutes (with progress), and the add-ons' images.

The node image and the add-on images (metrics-server, Prometheus, Alertmanager,
prometheus-adapter: tooling/k8s/images.py ADDON_IMAGES, pinned in deploy/orchestration/addons)
come from registries once; after that they are local, loaded into the nodes like the stack's own
images, and the add-on manifests use `imagePullPolicy: IfNotPresent`, so a second `inv cluster`
needs no registry.
"""

from collections.abc import Iterable

from tooling import progress
from tooling.cli import docker, kind
from tooling.errors import CommandError, StackyardError

# A layer-by-layer pull on a slow line takes minutes (the node image is ~400 MB compressed):
# a pull is bounded so a dead connection ends, but never cut while data still arrives.
PULL_TIMEOUT = 900.0
ADDON_PULL_TIMEOUT = 600.0
PULL_HEARTBEAT = progress.HEARTBEAT_SECONDS
INSPECT_TIMEOUT = 15.0


def is_local(image: str) -> bool:
    return docker.image_id(image, timeout=INSPECT_TIMEOUT) is not None


def pull(image: str, *, timeout: float, why: str) -> None:
    """`docker pull` with docker's own layer progress and a still-running line every PULL_HEARTBEAT s.

    Raises CommandError (its stderr is empty: docker printed the reason on the terminal)."""
    with progress.step(f"pulling {image} ({why}; up to {timeout / 60:.0f} min)", heartbeat=PULL_HEARTBEAT):
        docker.pull_with_progress(image, timeout=timeout)


def reason(error: CommandError) -> str:
    """The last line docker said, or where to find it when its output went to the terminal."""
    lines = error.stderr.strip().splitlines()
    if lines:
        return lines[-1]
    return f"exit {error.returncode}; docker's output is above"


def ensure_addon_images(images: Iterable[str]) -> dict[str, str]:
    """Each add-on image is local, or pulled now; {image: "present" | "pulled"}.

    Tries every image before failing, so one message names all that are missing."""
    found: dict[str, str] = {}
    failed: list[str] = []
    for image in sorted(images):
        if is_local(image):
            found[image] = "present"
            continue
        try:
            pull(image, timeout=ADDON_PULL_TIMEOUT, why="add-on image, first run only")
            found[image] = "pulled"
        except CommandError as error:
            failed.append(f"{image} ({reason(error)})")
    if failed:
        raise StackyardError(
            "add-on images are not on this machine and could not be pulled:\n    " + "\n    ".join(failed),
            "the network is needed once, for the first `inv cluster` (registry.k8s.io and quay.io): run it where "
            "they are reachable, or `docker pull` / `docker load` these images yourself; later runs need no registry")
    return found


def load(cluster: kind.Cluster, images: Iterable[str]) -> list[tuple[str, str]]:
    """Load each local image into every node; [(image, how)]."""
    loaded = []
    for image in images:
        how = cluster.load_docker_image(image)
        progress.say(f"  {image} ({how})")
        loaded.append((image, how))
    return loaded
