"""Whether an existing kind cluster is the one deploy/orchestration/kind/cluster.yaml and NODE_IMAGE describe.

`kind create cluster` refuses a name that exists, so `inv cluster` reuses it; a cluster made by
hand or by an older toolkit (another node image, other port mappings) would then run the stack
with the wrong Kubernetes or without the gateway and Prometheus on 127.0.0.1. What is compared:

- the node image: kind runs every node as `docker run … <node.Image>` (kind v0.32.0,
  pkg/cluster/internal/providers/docker/provision.go `runArgsForNode`), and Docker keeps the
  reference given as the container's `Config.Image` (moby daemon/create.go rewrites nothing);
- the Kubernetes version the API server reports (`kubectl version -o json`: serverVersion.gitVersion);
- the nodes' roles: the `io.x-k8s.kind.role` container label (kind's constants.go nodeRoleLabelKey);
- port mappings: kind passes each extraPortMapping as `--publish=ADDR:HOST:CONTAINER/proto`
  (provision.go `generatePortMappings`), which `docker inspect` shows as
  HostConfig.PortBindings {"30080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "30080"}]}.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tooling.cli import docker, kind
from tooling.errors import CommandError, StackyardError

ROLE_LABEL = "io.x-k8s.kind.role"
Binding = tuple[str, str, str]  # ("30080/tcp", "127.0.0.1", "30080")


def expected(config_file: Path) -> tuple[Counter[str], dict[str, set[Binding]]]:
    """From the kind config: how many nodes of each role, and each role's port bindings."""
    spec = yaml.safe_load(config_file.read_text()) or {}
    roles: Counter[str] = Counter()
    bindings: dict[str, set[Binding]] = {}
    for node in spec.get("nodes") or [{"role": "control-plane"}]:
        role = str(node.get("role", "control-plane"))
        roles[role] += 1
        for mapping in node.get("extraPortMappings") or []:
            protocol = str(mapping.get("protocol", "TCP")).lower()
            bindings.setdefault(role, set()).add((f"{mapping['containerPort']}/{protocol}",
                                                  str(mapping.get("listenAddress", "0.0.0.0")),
                                                  str(mapping.get("hostPort", mapping["containerPort"]))))
    return roles, bindings


def actual(nodes: list[dict[str, Any]]) -> tuple[Counter[str], dict[str, set[Binding]], set[str]]:
    """From `docker inspect` of the node containers: roles, port bindings per role, images."""
    roles: Counter[str] = Counter()
    bindings: dict[str, set[Binding]] = {}
    images = set()
    for node in nodes:
        role = str(((node.get("Config") or {}).get("Labels") or {}).get(ROLE_LABEL, "?"))
        roles[role] += 1
        images.add(str((node.get("Config") or {}).get("Image", "")))
        for port, hosts in ((node.get("HostConfig") or {}).get("PortBindings") or {}).items():
            for host in hosts or []:
                bindings.setdefault(role, set()).add((port, str(host.get("HostIp") or "0.0.0.0"),
                                                      str(host.get("HostPort", ""))))
    return roles, bindings, images


def server_version(cluster: kind.Cluster) -> str:
    try:
        answer = json.loads(cluster.kubectl("version", "-o", "json", timeout=30))
    except (CommandError, json.JSONDecodeError):
        return ""
    return str((answer.get("serverVersion") or {}).get("gitVersion", ""))


def differences(cluster: kind.Cluster, config_file: Path, node_image: str) -> list[str]:
    """What differs between the running cluster and the config and pin; [] when it matches."""
    found: list[str] = []
    names = cluster.nodes()
    inspected = docker.inspect_containers(names) if names else []
    roles, bindings, images = actual(inspected)
    want_roles, want_bindings = expected(config_file)
    stopped = [str(n.get("Name", "")).lstrip("/") for n in inspected if not (n.get("State") or {}).get("Running")]
    if stopped:
        found.append(f"nodes not running: {', '.join(stopped)}")
    if roles != want_roles:
        found.append(f"nodes: {dict(sorted(roles.items()))}, the config has {dict(sorted(want_roles.items()))}")
    if images != {node_image}:
        found.append(f"node image: {', '.join(sorted(images)) or 'unknown'}, pinned: {node_image}")
    want_version = node_image.split("@")[0].rpartition(":")[2]  # kindest/node:v1.36.1@sha256:… → v1.36.1
    version = server_version(cluster)
    if version.split("+")[0] != want_version:
        found.append(f"Kubernetes {version or '(the API server does not answer)'}, pinned: {want_version}")
    for role, wanted in sorted(want_bindings.items()):
        missing = wanted - bindings.get(role, set())
        if missing:
            have = sorted(b for b in bindings.get(role, set()) if b[0] in {m[0] for m in missing})
            found.append(f"{role} port mappings missing: " + ", ".join(_text(b) for b in sorted(missing))
                         + (f" (it has {', '.join(_text(b) for b in have)})" if have else ""))
    return found


def _text(binding: Binding) -> str:
    port, host_ip, host_port = binding
    return f"{host_ip}:{host_port}→{port}"


def check(cluster: kind.Cluster, config_file: Path, node_image: str) -> None:
    """Fail, saying what differs and how to recreate it, unless the existing cluster matches."""
    found = differences(cluster, config_file, node_image)
    if found:
        raise StackyardError(
            f"the existing kind cluster {cluster.name!r} is not the one {'/'.join(config_file.parts[-4:])} and the "
            "pinned node "
            "image describe:\n    " + "\n    ".join(found),
            "recreate it: `inv cluster.down && inv cluster` (this deletes the cluster and its volumes)")
