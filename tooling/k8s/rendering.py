"""Render the overlays (and add-ons, and base with each component) with kustomize, from config.

Each overlay in deploy/orchestration/overlays/ is wrapped, in a temporary directory, by a
kustomization that adds what comes from envs/<stage>.yaml (merged into the base's ConfigMaps,
and postgres's `-c max_connections=N` args) and the image references of the ImagePlan
(kustomize `images:`). Tracked files are never edited; the same config object renders the
compose environment (tooling/compose.py).
"""

import copy
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tooling.cli import kubectl
from tooling.config import StackConfig
from tooling.errors import CommandError
from tooling.images import ImagePlan
from tooling.k8s.configmaps import config_maps
from tooling.k8s.images import ADDON_IMAGES, image_entries, plan_images
from tooling.k8s.problems import K8sError

ORCHESTRATION = Path("deploy/orchestration")
OVERLAYS = ("kind", "staging", "production")
COMPONENT_DIRS = ("autoscaling", "monitoring", "network-policies", "pod-disruption-budgets")


@dataclass
class Rendering:
    label: str  # "overlay kind", "addons", "base+autoscaling"
    text: str
    objects: list[dict[str, Any]]
    allowed_images: frozenset[str]


def postgres_args(config: StackConfig) -> list[str]:
    """The postgres container's arguments from config. Both images take them: the upstream
    entrypoint runs `postgres "$@"` when the first argument starts with "-" (docker-library/postgres
    15/bookworm/docker-entrypoint.sh), ours `postgres -D "$PGDATA" "$@"` (deploy/docker/
    postgres-entrypoint.sh); a command-line -c overrides postgresql.conf."""
    return ["-c", f"max_connections={config.postgres.max_connections}"]


def _postgres_patch(args: list[str]) -> dict[str, Any]:
    """A strategic-merge patch (containers merge by name) setting the postgres container's args."""
    patch = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "postgres"},
             "spec": {"template": {"spec": {"containers": [{"name": "postgres", "args": args}]}}}}
    return {"target": {"kind": "StatefulSet", "name": "postgres"}, "patch": yaml.safe_dump(patch, sort_keys=False)}


def _wrapper(target: Path, where: Path, *, components: Iterable[Path] = (),
             images: list[dict[str, str]] | None = None, maps: Mapping[str, Mapping[str, str]] | None = None,
             namespace: str | None = None, postgres: list[str] | None = None) -> dict[str, Any]:
    # kustomize refuses absolute resource paths: point at the target relative to the wrapper.
    kustomization: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(target, where)],
    }
    if namespace:
        kustomization["namespace"] = namespace
    if components:
        kustomization["components"] = [os.path.relpath(c, where) for c in components]
    if images:
        kustomization["images"] = images
    if maps:
        kustomization["configMapGenerator"] = [
            {"name": f"stackyard-{component}", "behavior": "merge",
             "literals": [f"{key}={value}" for key, value in sorted(values.items())]}
            for component, values in maps.items()
        ]
    if postgres:
        kustomization["patches"] = [_postgres_patch(postgres)]
    return kustomization


def kustomize(target: Path, **wrapper: Any) -> str:
    """Render `target` (a kustomization directory) wrapped with images and ConfigMap values."""
    if not (target / "kustomization.yaml").exists():
        raise K8sError(f"{target} has no kustomization.yaml", "check the path (overlays: " + ", ".join(OVERLAYS) + ")")
    with tempfile.TemporaryDirectory(prefix="stackyard-render-") as tmp:
        where = Path(tmp)
        (where / "kustomization.yaml").write_text(yaml.safe_dump(_wrapper(target, where, **wrapper), sort_keys=False))
        try:
            return kubectl.kustomize(where)
        except CommandError as error:
            raise K8sError(f"kustomize could not render {target}:\n    {error.stderr.strip()}",
                           "fix the file it names (run `kubectl kustomize` on it to iterate)") from error


def render(orchestration: Path, overlay: str, config: StackConfig, plan: ImagePlan) -> Rendering:
    if overlay not in OVERLAYS:
        raise K8sError(f"no overlay {overlay!r}", f"use one of: {', '.join(OVERLAYS)}")
    text = kustomize(orchestration / "overlays" / overlay, images=image_entries(plan), maps=config_maps(config),
                     postgres=postgres_args(config))
    return Rendering(f"overlay {overlay}", text, parse(text, f"overlay {overlay}"), plan_images(plan))


def render_addons(orchestration: Path) -> Rendering:
    text = kustomize(orchestration / "addons")
    return Rendering("addons", text, parse(text, "addons"), ADDON_IMAGES)


def render_combinations(orchestration: Path, config: StackConfig, plan: ImagePlan) -> list[Rendering]:
    """base alone and base with each component alone: each must stand on its own."""
    renderings = []
    for component in ("", *COMPONENT_DIRS):
        label = "base" + (f"+{component}" if component else "")
        components = [orchestration / "components" / component] if component else []
        # A namespace, as every overlay sets one (checkov rightly flags the default namespace).
        text = kustomize(orchestration / "base", components=components, images=image_entries(plan),
                         maps=config_maps(config), namespace="stackyard-check", postgres=postgres_args(config))
        renderings.append(Rendering(label, text, parse(text, label), plan_images(plan)))
    return renderings


def parse(text: str, label: str) -> list[dict[str, Any]]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc]
    except yaml.YAMLError as error:
        raise K8sError(f"{label}: kustomize produced invalid YAML: {error}", "report this: it is a bug") from error


def write(rendering: Rendering, out: Path, name: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.yaml"
    path.write_text(rendering.text)
    return path


def copy_objects(rendering: Rendering) -> Rendering:
    """A deep copy to mutate in tests and what-ifs."""
    return Rendering(rendering.label, rendering.text, copy.deepcopy(rendering.objects), rendering.allowed_images)
