"""The pinned kind binary: found where it already is, else downloaded with its SHA-256 checked.

KIND_VERSION is the one kind the toolkit drives (tooling/cluster.py pins the node image it was
released with). Lookup order: STACKYARD_KIND, our pinned copy, `kind` on PATH if it is that
version, else the release asset from GitHub (only where `download` is allowed).
"""

import hashlib
import os
import platform
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tooling import progress
from tooling.cli import kind
from tooling.errors import StackyardError

KIND_VERSION = "v0.32.0"
# From the kind release's <asset>.sha256sum files.
KIND_SHA256 = {
    "linux-amd64": "50030de23cf40a18505f20426f6a8506bedf13c6e509244bd1fa9463721b0f54",
    "linux-arm64": "b92cd615e97585de8ddade28ed5cd7feb4248d717c233eea5b03c37298900f5d",
    "darwin-amd64": "295ac6d0d634c9819c9907df45e3017d1f13166bd13c3404c45e79f7faa47498",
    "darwin-arm64": "dca67911095a110c2b5c36e26df6cac860c602033e456c0db47be498cdef1ebb",
}
KIND_URL = "https://github.com/kubernetes-sigs/kind/releases/download/{version}/kind-{platform}"
DOWNLOAD_TIMEOUT = 20.0


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{system}-{arch}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_kind(target: Path, *, key: str | None = None, url: str | None = None,
                  expected: str | None = None, opener: Callable[..., Any] = urllib.request.urlopen) -> Path:
    """Download the pinned kind to `target`, refusing it unless its SHA-256 is the pinned one."""
    key = key or platform_key()
    expected = expected or KIND_SHA256.get(key)
    if expected is None:
        raise StackyardError(f"no pinned kind {KIND_VERSION} build for {key}",
                             f"install kind {KIND_VERSION} yourself and set STACKYARD_KIND=/path/to/kind")
    url = url or KIND_URL.format(version=KIND_VERSION, platform=key)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    try:
        with opener(url, timeout=DOWNLOAD_TIMEOUT) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StackyardError(
            f"kind {KIND_VERSION} is not installed and could not be downloaded from {url} ({error})",
            f"install kind {KIND_VERSION} (https://kind.sigs.k8s.io/docs/user/quick-start/) and put it on PATH "
            f"or set STACKYARD_KIND=/path/to/kind; or copy it to {target}") from error
    actual = sha256_of(partial)
    if actual != expected:
        partial.unlink()
        raise StackyardError(f"the downloaded kind has SHA-256 {actual}, not the pinned {expected}",
                             "the download was corrupted or tampered with: retry, or install kind yourself")
    partial.chmod(0o755)
    partial.rename(target)
    return target


def find_kind(bin_dir: Path, *, download: bool = True) -> Path:
    """STACKYARD_KIND, else our pinned copy in `bin_dir`, else `kind` on PATH if it is KIND_VERSION,
    else download it into `bin_dir`."""
    override = os.environ.get("STACKYARD_KIND")
    if override:
        if not Path(override).exists():
            raise StackyardError(f"STACKYARD_KIND={override} does not exist", "point it at a kind binary, or unset it")
        return Path(override)
    pinned = bin_dir / f"kind-{KIND_VERSION}"
    if pinned.exists():
        return pinned
    on_path = shutil.which("kind")
    if on_path and f"kind {KIND_VERSION} " in kind.version(on_path) + " ":
        return Path(on_path)
    if not download:
        found = f" (found {on_path}, which is not {KIND_VERSION})" if on_path else ""
        raise StackyardError(f"kind {KIND_VERSION} is not installed{found}",
                             "install it (https://kind.sigs.k8s.io/docs/user/quick-start/) or let `inv cluster` "
                             "download it where GitHub is reachable; or set STACKYARD_KIND=/path/to/kind")
    if on_path:
        progress.say(f"  {on_path} is not kind {KIND_VERSION}: downloading the pinned release")
    return download_kind(pinned)
