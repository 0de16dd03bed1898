"""The Postgres connection budget: a scale-out must not exhaust Postgres.

Each component that reads `database_pool_size` (services/stackyard/common/settings.py,
DatabaseSettings) holds one asyncpg pool of at most that many connections per process
(services/stackyard/common/deps.py, `create_pool(max_size=...)`; one uvicorn process per
container). So at its largest the stack opens

    Σ over those components: pool × maximum replicas

connections, and that must fit in `postgres.max_connections − postgres.reserve` (envs/base.yaml).
The pool is the service default unless the rendered environment sets STACKYARD_DATABASE_POOL_SIZE;
the maximum is the HPA's maxReplicas (or `spec.replicas` without an HPA) on a cluster and the
`--scale` on compose. `inv k8s.validate` checks every overlay (`budget_problems`), `inv up` refuses
a scale that breaks it (`check_scale`), and `inv capacity` caps the bounds it proposes.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tooling.config import StackConfig, mapping
from tooling.errors import StackyardError
from tooling.k8s.checks_base import pod_spec
from tooling.k8s.checks_containers import ContainerChecks
from tooling.k8s.problems import Problem, subject_of
from tooling.k8s.rendering import Rendering, postgres_args

POOL_FIELD = "database_pool_size"
POOL_VARIABLE = mapping.SERVICE_ENV_PREFIX + POOL_FIELD.upper()
FIX = "lower {replicas}, lower the pool ({variable}), or raise postgres.max_connections in envs/"


@dataclass(frozen=True)
class PoolUse:
    component: str
    pool: int  # connections per process
    replicas: int  # at most

    @property
    def connections(self) -> int:
        return self.pool * self.replicas


def postgres_components() -> tuple[str, ...]:
    """The components that hold a Postgres pool: every one whose settings have the pool size."""
    return mapping.readers(POOL_FIELD)


def default_pool(component: str) -> int:
    return int(mapping.settings_class(component).model_fields[POOL_FIELD].default)


def pool_of(component: str, env: Mapping[str, str]) -> int:
    value = env.get(POOL_VARIABLE)
    return int(value) if value is not None else default_pool(component)


def budget(config: StackConfig) -> int:
    """Connections the pools may hold together."""
    return config.postgres.max_connections - config.postgres.reserve


def describe(uses: list[PoolUse]) -> str:
    """`gateway 10 × 3 + orchestrator 10 × 1 = 40`: each pool × replicas, and the sum."""
    terms = " + ".join(f"{use.component} {use.pool} × {use.replicas}" for use in uses)
    return f"{terms} = {sum(use.connections for use in uses)}"


def budget_text(config: StackConfig) -> str:
    pg = config.postgres
    return f"{budget(config)} (postgres.max_connections {pg.max_connections} − postgres.reserve {pg.reserve})"


def over_budget(uses: list[PoolUse], config: StackConfig) -> str | None:
    """What breaks the budget, naming each component's pool × replicas, or None when it fits."""
    if sum(use.connections for use in uses) <= budget(config):
        return None
    return f"Postgres connections (pool × max replicas): {describe(uses)}, over the budget of {budget_text(config)}"


# --- compose ----------------------------------------------------------------------------------


def compose_uses(config: StackConfig, replicas: Mapping[str, int]) -> list[PoolUse]:
    """Under compose each service runs `replicas[service]` containers (1 unless scaled)."""
    return [PoolUse(c, pool_of(c, mapping.service_env(config, c)), replicas.get(c, 1))
            for c in postgres_components()]


def check_scale(config: StackConfig, replicas: Mapping[str, int]) -> None:
    """Refuse a compose scale that breaks the budget (before anything starts)."""
    broken = over_budget(compose_uses(config, replicas), config)
    if broken:
        raise StackyardError(f"--scale breaks the connection budget: {broken}",
                             FIX.format(replicas="the --scale", variable=POOL_VARIABLE))


# --- Kubernetes -------------------------------------------------------------------------------


def _max_replicas(checker: ContainerChecks) -> dict[tuple[Any, str, str], int]:
    """(namespace, kind, name) of each HPA's target → its maxReplicas."""
    found = {}
    for hpa in checker.by_kind.get("HorizontalPodAutoscaler", []):
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        namespace = (hpa.get("metadata") or {}).get("namespace")
        found[(namespace, str(ref.get("kind")), str(ref.get("name")))] = int(hpa["spec"]["maxReplicas"])
    return found


def rendered_uses(rendering: Rendering) -> list[PoolUse]:
    """Each Postgres client in the rendering: its pool from its rendered environment, its maximum
    replicas from the HPA that targets it, else its spec.replicas (1 when unset)."""
    checker = ContainerChecks(rendering)
    bounds = _max_replicas(checker)
    clients = postgres_components()
    uses = []
    for workload in checker.workloads():
        meta = workload.get("metadata") or {}
        namespace = meta.get("namespace")
        key = (namespace, str(workload.get("kind")), str(meta.get("name")))
        replicas = bounds.get(key, int((workload.get("spec") or {}).get("replicas", 1)))
        for container in pod_spec(workload).get("containers") or []:
            name = str(container.get("name"))
            if name in clients:
                uses.append(PoolUse(name, pool_of(name, checker.environment(workload, container, namespace)),
                                    replicas))
    return sorted(uses, key=lambda use: clients.index(use.component))


def _rendered_max_connections(workload: Mapping[str, Any]) -> str | None:
    for container in pod_spec(workload).get("containers") or []:
        if container.get("name") == "postgres":
            args = [str(a) for a in container.get("args") or []]
            values = [a.split("=", 1)[1] for a in args if a.removeprefix("-c").startswith("max_connections=")]
            return values[-1] if values else None
    return None


def budget_problems(rendering: Rendering, config: StackConfig) -> list[Problem]:
    """The budget over one rendering with its stage's config, and postgres really running with the
    config's max_connections (else the budget would be computed against the wrong ceiling)."""
    problems = []
    want = postgres_args(config)[1].split("=", 1)[1]
    for workload in rendering.objects:
        if workload.get("kind") == "StatefulSet" and (workload.get("metadata") or {}).get("name") == "postgres":
            got = _rendered_max_connections(workload)
            if got != want:
                problems.append(Problem(rendering.label, subject_of(workload),
                                        f"postgres runs with max_connections={got or 'its default (100)'}, but "
                                        f"envs/ says postgres.max_connections {want}: render through "
                                        "`inv k8s.render` and patch nothing over the postgres args", "budget"))
    broken = over_budget(rendered_uses(rendering), config)
    if broken:
        fix = FIX.format(replicas="maxReplicas", variable=POOL_VARIABLE)
        problems.append(Problem(rendering.label, "", f"{broken}: {fix}", "budget"))
    return problems
