"""Where the base and infrastructure images will come from: tooling/images.py `resolve_source`,
answered without pulling.

`resolve_source` (images.source `auto`) takes bootstrap when its base image is here, upstream when
every pinned upstream image is here, else tries one `docker pull` (20 s) and bootstraps when that
fails. The doctor asks the same questions in the same order, but replaces the pull by an HTTPS
request to the registry's /v2/ endpoint, bounded to seconds: any HTTP answer (401 included: the
Registry API asks for a token) means it is reachable.
"""

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tooling import images
from tooling.cli import docker as docker_cli
from tooling.config import StackConfig
from tooling.doctor.result import Check, fail, ok, warn

REGISTRY_TIMEOUT = 2.5
INSPECT_TIMEOUT = 4.0
DOCKER_HUB = "registry-1.docker.io"
NAME = "image source"


def registry_host(ref: str) -> str:
    """The registry of an image reference (Docker Hub for "python:3.11", "prom/prometheus:v2")."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def registry_answers(host: str, *, timeout: float = REGISTRY_TIMEOUT,
                     opener: Callable[..., Any] = urllib.request.urlopen) -> str:
    """"" when https://HOST/v2/ answers within `timeout`, else why not (urllib honours HTTPS_PROXY)."""
    try:
        with opener(f"https://{host}/v2/", timeout=timeout):
            return ""
    except urllib.error.HTTPError:
        return ""  # 401 Unauthorized is the Registry API's normal answer to an anonymous /v2/
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return str(reason) or type(error).__name__


def _present(ref: str) -> bool:
    return docker_cli.image_id(ref, timeout=INSPECT_TIMEOUT) is not None


def _bootstrap_possible(base: str) -> Check | None:
    """None when a bootstrap can run here; else the ✗ that says why not (tooling/images.py bootstrap_base)."""
    if os.geteuid() == 0 or _present(base):
        return None
    return fail(NAME, f"no registry, and bootstrapping the base image {base} runs debootstrap, which needs root",
                "run `sudo ./dev images.base` once, or make a registry reachable and set images.source: upstream")


def image_source(config: StackConfig, root: Path, *,
                 answers: Callable[[str], str] = registry_answers) -> Check:
    source = config.images.source
    upstream = config.images.upstream
    base = images.base_ref(config)
    if source == "bootstrap" or (source == "auto" and _present(base)):
        why = "images.source: bootstrap" if source == "bootstrap" else f"auto: the base image {base} is here"
        blocked = _bootstrap_possible(base)
        if blocked:
            return blocked
        tool = "" if _present(base) or shutil.which("debootstrap") else "; debootstrap gets installed with apt-get"
        return ok(NAME, f"bootstrap ({why}): images built from Debian packages, no registry needed{tool}")
    wanted = [upstream.python, *(getattr(upstream, n) for n in images.CORE_INFRA)]
    missing = [ref for ref in wanted if not _present(ref)]
    if not missing:
        return ok(NAME, f"upstream ({'auto: ' if source == 'auto' else ''}every pinned upstream image is here)")
    host = registry_host(upstream.python)
    reason = answers(host)
    if not reason:
        return ok(NAME, f"upstream: {host} answers; the first `inv up` pulls {len(missing)} image(s) "
                  f"({', '.join(missing)})")
    if source == "upstream":
        return fail(NAME, f"images.source: upstream, {len(missing)} image(s) missing and {host} does not answer "
                    f"({reason})", "set images.source: bootstrap (or STACKYARD__IMAGES__SOURCE=bootstrap), "
                    "or make the registry reachable (proxy?)")
    blocked = _bootstrap_possible(base)
    if blocked:
        return blocked
    return warn(NAME, f"auto → bootstrap: {host} does not answer ({reason}); the first `inv up` makes a Debian "
                "base with debootstrap (about a minute) and builds Redis, Postgres and nginx from Debian's packages",
                "nothing to do; to use the pinned upstream images instead, make the registry reachable")
