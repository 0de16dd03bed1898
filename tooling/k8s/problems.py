"""What every check reports: `Problem` (where, which object, what to change) and `K8sError`."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tooling.errors import StackyardError


class K8sError(StackyardError):
    pass


@dataclass(frozen=True)
class Problem:
    source: str  # where: "overlay kind", "addons", "base+monitoring"
    subject: str  # "Deployment/gateway" (namespace left out: one namespace per render)
    message: str
    check: str  # schema | semantic | parity | budget | checkov

    def __str__(self) -> str:
        subject = f"{self.subject}: " if self.subject else ""
        return f"[{self.check}] {self.source}: {subject}{self.message}"


def subject_of(obj: Mapping[str, Any]) -> str:
    """`Kind/name` of a rendered object, as a Problem's subject."""
    return f"{obj.get('kind', '?')}/{(obj.get('metadata') or {}).get('name', '?')}"
