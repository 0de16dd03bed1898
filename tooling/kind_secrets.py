"""Secret changes that reach the pods on a re-run of `inv cluster`, and the one that cannot.

ConfigMaps need nothing here: base/kustomization.yaml makes them with `configMapGenerator`, so
kustomize names each one with a hash of its content (`stackyard-gateway-7ftbfmmf4k`) and rewrites
every `configMapRef` to that name; a changed value is a changed pod template, and `kubectl apply`
rolls it (seen in a rendering of overlays/kind; tests/unit/test_kind_secrets.py checks it).

The Secret is applied by tooling/cluster.py beside the overlay (it never enters a file or argv),
so its name is fixed and a change would leave running pods on the old values: each workload
that reads it gets the annotation CHECKSUM_ANNOTATION (sha256 of the Secret's data, never the
data) on its pod template, so a change of the Secret is a change of the template.

Postgres reads POSTGRES_PASSWORD only when it initialises an empty data directory: on an
existing volume a new password changes nothing in the database, and every client that uses the
new one is refused. That case is found before anything is applied and said plainly.
"""

import copy
import hashlib
import json
from typing import Any

from tooling.cli import kind
from tooling.errors import CommandError, StackyardError
from tooling.k8s import SECRET_NAME

# Helm's `checksum/config` convention, for our one Secret.
CHECKSUM_ANNOTATION = "checksum/stackyard-secrets"
POSTGRES_PASSWORD_KEY = "postgres-password"
WORKLOADS = ("Deployment", "StatefulSet")


def checksum(secret: dict[str, Any]) -> str:
    """sha256 over the Secret's sorted data: equal data, equal checksum, run after run."""
    data = secret.get("data") or {}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def reads_secret(obj: dict[str, Any], name: str = SECRET_NAME) -> bool:
    """Whether a workload's pod template refers to the Secret (env, envFrom or a volume)."""
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for env in container.get("env") or []:
            if ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == name:
                return True
        if any((source.get("secretRef") or {}).get("name") == name for source in container.get("envFrom") or []):
            return True
    return any((volume.get("secret") or {}).get("secretName") == name for volume in spec.get("volumes") or [])


def annotate(objects: list[dict[str, Any]], secret: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of `objects` whose workloads that read the Secret carry its checksum on the pod template."""
    value = checksum(secret)
    result = []
    for obj in objects:
        if obj.get("kind") in WORKLOADS and reads_secret(obj):
            obj = copy.deepcopy(obj)
            metadata = obj["spec"]["template"].setdefault("metadata", {})
            metadata.setdefault("annotations", {})[CHECKSUM_ANNOTATION] = value
        result.append(obj)
    return result


def _get(cluster: kind.Cluster, namespace: str, resource: str, name: str) -> dict[str, Any] | None:
    """`kubectl get RESOURCE NAME -o json`, or None when it is not there (NotFound, or no namespace yet)."""
    try:
        answer = json.loads(cluster.kubectl("get", resource, name, "-n", namespace, "-o", "json", "--ignore-not-found",
                                            timeout=30) or "{}")
    except CommandError:
        return None
    return answer if isinstance(answer, dict) and answer else None


def postgres_claims(objects: list[dict[str, Any]]) -> list[str]:
    """The PVC names of the postgres StatefulSet's pods (`<template>-postgres-<ordinal>`)."""
    for obj in objects:
        if obj.get("kind") == "StatefulSet" and obj["metadata"]["name"] == "postgres":
            replicas = int((obj.get("spec") or {}).get("replicas") or 1)
            templates = [t["metadata"]["name"] for t in (obj.get("spec") or {}).get("volumeClaimTemplates") or []]
            return [f"{t}-postgres-{i}" for t in templates for i in range(replicas)]
    return []


def check_postgres_password(cluster: kind.Cluster, namespace: str, secret: dict[str, Any],
                            objects: list[dict[str, Any]], *, user: str) -> None:
    """Refuse a changed Postgres password when the Postgres volume already exists."""
    current = _get(cluster, namespace, "secret", SECRET_NAME)
    if current is None:
        return  # a first run: the volume, if any, will be initialised with this password
    old = (current.get("data") or {}).get(POSTGRES_PASSWORD_KEY)
    new = (secret.get("data") or {}).get(POSTGRES_PASSWORD_KEY)
    if old is None or old == new:
        return
    existing = [claim for claim in postgres_claims(objects) if _get(cluster, namespace, "pvc", claim)]
    if not existing:
        return
    raise StackyardError(
        f"the Postgres password changed, but the Postgres volume ({', '.join(existing)} in namespace {namespace}) "
        "already exists: Postgres takes POSTGRES_PASSWORD only when it creates an empty data directory, so the "
        "new password would not apply and every service would be refused",
        "either recreate the cluster with its volumes (`inv cluster.down` then `inv cluster`; the data is lost), "
        "or set the old password again, or change it inside Postgres first "
        f"(`kubectl -n {namespace} exec -it statefulset/postgres -- "
        f"psql -U {user} -d postgres -c '\\password {user}'`), then "
        f"`kubectl -n {namespace} delete secret {SECRET_NAME}` and run `inv cluster` again")
