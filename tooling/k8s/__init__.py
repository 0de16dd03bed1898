"""Kubernetes manifests: render them from config with kustomize, and prove them before any cluster.

Rendering (rendering.py): each overlay in deploy/orchestration/overlays/ is wrapped by a
kustomization that adds the values from envs/<stage>.yaml (configmaps.py) and the ImagePlan's
image references (images.py). Tracked files are never edited.

Proof, with no cluster (validation.py runs all four over every rendering):
  1. every object against the pinned Kubernetes version's JSON schemas, strictly (unknown fields
     are errors) — kubernetes-validate, offline (schema.py);
  2. our own semantic checks (`semantic_problems`, checks.py and checks_containers.py): selectors,
     HPA targets, requests, probes, ports, config keys against the services' settings classes
     (settings.py), images, drain timing;
  3. the Postgres connection budget of each overlay: pools × max replicas within max_connections
     minus the reserve (connection_budget.py);
  4. checkov's policies, with every skip written next to its reason (checkov.py).
Every problem (problems.py) names where it was found (overlay or file), the object and what to change.
"""

from tooling.k8s.checkov import checkov_problems
from tooling.k8s.checks import adapter_metrics, semantic_problems
from tooling.k8s.configmaps import SECRET_KEYS, SECRET_NAME, config_maps, secret_data
from tooling.k8s.connection_budget import (
    PoolUse,
    budget,
    budget_problems,
    check_scale,
    compose_uses,
    over_budget,
    postgres_components,
    rendered_uses,
)
from tooling.k8s.images import ADDON_IMAGES, image_entries, plan_images, split_image
from tooling.k8s.parity import parity_problems
from tooling.k8s.problems import K8sError, Problem
from tooling.k8s.rendering import (
    COMPONENT_DIRS,
    ORCHESTRATION,
    OVERLAYS,
    Rendering,
    copy_objects,
    kustomize,
    parse,
    postgres_args,
    render,
    render_addons,
    render_combinations,
    write,
)
from tooling.k8s.schema import K8S_VERSION, schema_problems
from tooling.k8s.settings import (
    APP_COMPONENTS,
    DATASTORES,
    ENV_PREFIX,
    SETTINGS_CLASSES,
    build_settings,
    served_paths,
    settings_class,
)
from tooling.k8s.validation import Report, summary, validate

__all__ = [
    "ADDON_IMAGES",
    "APP_COMPONENTS",
    "COMPONENT_DIRS",
    "DATASTORES",
    "ENV_PREFIX",
    "K8S_VERSION",
    "ORCHESTRATION",
    "OVERLAYS",
    "SECRET_KEYS",
    "SECRET_NAME",
    "SETTINGS_CLASSES",
    "K8sError",
    "PoolUse",
    "Problem",
    "Rendering",
    "Report",
    "adapter_metrics",
    "budget",
    "budget_problems",
    "build_settings",
    "check_scale",
    "checkov_problems",
    "compose_uses",
    "config_maps",
    "copy_objects",
    "image_entries",
    "kustomize",
    "over_budget",
    "parity_problems",
    "parse",
    "postgres_args",
    "postgres_components",
    "plan_images",
    "render",
    "render_addons",
    "render_combinations",
    "rendered_uses",
    "schema_problems",
    "secret_data",
    "semantic_problems",
    "served_paths",
    "settings_class",
    "split_image",
    "summary",
    "validate",
    "write",
]
