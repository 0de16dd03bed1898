"""The Debian host tools the base-image bootstrap needs: apt-get, debootstrap, and tar to pack the result."""

from collections.abc import Sequence
from pathlib import Path

from tooling.cli import run as seam

APT_TIMEOUT = 300.0
DEBOOTSTRAP_TIMEOUT = 1800.0
TAR_TIMEOUT = 600.0


def apt_install(packages: Sequence[str]) -> None:
    """`apt-get update` then `apt-get install -y PACKAGES` (as root), non-interactively."""
    seam.run(["apt-get", "update", "-qq"], timeout=APT_TIMEOUT)
    seam.run(["apt-get", "install", "-y", "-qq", *packages],
             env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=APT_TIMEOUT)


def debootstrap(binary: str, suite: str, target: Path, mirror: str, *, include: Sequence[str]) -> None:
    """A minimal (`--variant=minbase`) Debian `suite` root filesystem in `target`, plus `include`."""
    seam.run([binary, "--variant=minbase", f"--include={','.join(include)}", suite, str(target), mirror],
             timeout=DEBOOTSTRAP_TIMEOUT)


def pack(directory: Path, tarball: Path) -> None:
    """`tar` of everything under `directory` (numeric owners, as `docker import` wants them)."""
    seam.run(["tar", "-C", str(directory), "--numeric-owner", "-cf", str(tarball), "."], timeout=TAR_TIMEOUT)
