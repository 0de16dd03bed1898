"""Image references: the ImagePlan's tags as kustomize `images:` entries, and which images a render may use."""

from tooling.images import ImagePlan

# Add-on images, pinned by version; deploy/orchestration/addons/ may use these and only these.
ADDON_IMAGES = frozenset({
    "registry.k8s.io/metrics-server/metrics-server:v0.8.0",
    "quay.io/prometheus/prometheus:v3.5.0",
    "quay.io/prometheus/alertmanager:v0.28.1",
    "registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0",
})


def split_image(ref: str) -> tuple[str, str, str]:
    """`name:tag` / `name@sha256:…` / `name` → (name, tag, digest)."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag, digest


def image_entries(plan: ImagePlan) -> list[dict[str, str]]:
    """kustomize `images:` entries mapping base/'s untagged names to the plan's references."""
    wanted = {f"stackyard/{c}": ref for c, ref in plan.services.items()}
    wanted["stackyard/redis"] = plan.redis
    wanted["stackyard/postgres"] = plan.postgres
    entries = []
    for placeholder, ref in sorted(wanted.items()):
        name, tag, digest = split_image(ref)
        entry = {"name": placeholder, "newName": name}
        if digest:
            entry["digest"] = digest
        elif tag:
            entry["newTag"] = tag
        entries.append(entry)
    return entries


def plan_images(plan: ImagePlan) -> frozenset[str]:
    return frozenset([*plan.services.values(), plan.redis, plan.postgres])
