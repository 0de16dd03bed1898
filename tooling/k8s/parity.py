"""Check 2b: every mapped setting reaches every component that reads it, with the config's value.

The rendered environment of each app container (ConfigMaps via envFrom, and env) is held against
what tooling/config/mapping.py renders from the stage's config: a setting left out of a ConfigMap,
or overridden by a patch in an overlay, is reported with its config key and the target, so the
service can never quietly run with its built-in default.
"""

from typing import Any

from tooling.config import StackConfig, mapping
from tooling.k8s.checks_base import pod_spec
from tooling.k8s.checks_containers import ContainerChecks
from tooling.k8s.problems import Problem, subject_of
from tooling.k8s.rendering import Rendering


class _Parity(ContainerChecks):
    def add_parity(self, obj: dict[str, Any], message: str) -> None:
        self.problems.append(Problem(self.rendering.label, subject_of(obj), message, "parity"))

    def run(self, config: StackConfig) -> list[Problem]:
        for workload in self.workloads():
            namespace = (workload.get("metadata") or {}).get("namespace")
            for container in pod_spec(workload).get("containers") or []:
                component = str(container.get("name"))
                if component not in mapping.COMPONENTS:
                    continue
                env = self.environment(workload, container, namespace)
                for variable, want in mapping.service_env(config, component).items():
                    setting = mapping.setting_for(variable)
                    key = setting.key if setting else variable
                    if variable not in env:
                        self.add_parity(workload, f"{key} does not reach {component} on {self.rendering.label} "
                                                  f"({variable} is not in its environment): it would run with "
                                                  "its built-in default — render it from tooling/config/mapping.py")
                    elif env[variable] != want:
                        self.add_parity(workload, f"{key} reaches {component} on {self.rendering.label} as "
                                                  f"{variable}={env[variable]!r}, but envs/ says {want!r}: "
                                                  "remove the value patched over the config")
        return self.problems


def parity_problems(rendering: Rendering, config: StackConfig) -> list[Problem]:
    """Only the parity findings (environment() may also note a missing ConfigMap: semantic's job)."""
    return [p for p in _Parity(rendering).run(config) if p.check == "parity"]
