"""`inv up --watch` without a rebuild after edits: service images whose runtime matches this tree.

A service image's tag names the whole tree, code included, so every edit asks for new images. Under
--watch the code comes from the bind-mounted checkout, not the image: what must match is the
runtime — the base, the dependency list and the service Dockerfile. Each service image carries that
as a label (RUNTIME_LABEL); `reusable_tag` finds the newest tag all components have with the label.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path

from tooling.cli import docker

RUNTIME_LABEL = "org.stackyard.runtime"
RUNTIME_INPUTS = ("services/pyproject.toml",)


def runtime_key(base: str, root: Path, dockerfile: str) -> str:
    hasher = hashlib.sha256(base.encode())
    for relative in (*RUNTIME_INPUTS, dockerfile):
        hasher.update(b"\0" + (root / relative).read_bytes())
    return hasher.hexdigest()[:16]


def reusable_tag(repository: str, components: Sequence[str], key: str) -> str | None:
    """The newest tag under which every component has an image of runtime `key`; None if none has."""
    return newest_complete_tag(docker.images_with_label(f"{RUNTIME_LABEL}={key}"), repository, components)


def newest_complete_tag(refs: Sequence[str], repository: str, components: Sequence[str]) -> str | None:
    """Of `refs` (repo:tag, newest first), the first tag that every component has."""
    by_tag: dict[str, set[str]] = {}
    for ref in refs:
        name, _, tag = ref.rpartition(":")
        repo, _, component = name.rpartition("/")
        if repo == repository and component in components:
            by_tag.setdefault(tag, set()).add(component)
    return next((tag for tag, found in by_tag.items() if found >= set(components)), None)
