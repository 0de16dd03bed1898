"""Check 1: every rendered object against the pinned Kubernetes version's JSON schemas, strictly.

Unknown fields are errors; kubernetes-validate works offline from the schemas it bundles.
"""

from collections.abc import Iterable
from typing import Any

from tooling.k8s.problems import Problem, subject_of
from tooling.k8s.rendering import Rendering

# The Kubernetes version manifests are validated against: the one kind's pinned node image runs
# (tooling/cluster.py NODE_IMAGE). kubernetes-validate bundles schemas for 1.25 to 1.37.
K8S_VERSION = "1.36.1"


def _json_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_problems(rendering: Rendering, version: str = K8S_VERSION) -> list[Problem]:
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

    problems = []
    for obj in rendering.objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except ValidationError as error:
            where = _json_path(error.path)
            problems.append(Problem(rendering.label, subject_of(obj),
                                    f"{where}: {error.message} (Kubernetes {version} schema, strict)", "schema"))
        except SchemaNotFoundError:
            problems.append(Problem(
                rendering.label, subject_of(obj),
                f"no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {version}: a typo in "
                "apiVersion/kind, a removed API, or a custom resource (give it its own schema)", "schema"))
    return problems
