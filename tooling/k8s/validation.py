"""Everything at once: render every overlay, the add-ons and base with each component, run all
checks over them (schemas, semantic, parity with the config — also for compose —, the Postgres
connection budget of each overlay, and checkov), and summarise the report."""

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tooling import compose_env
from tooling.config import Secrets, StackConfig
from tooling.images import ImagePlan
from tooling.k8s.checkov import checkov_problems
from tooling.k8s.checks import adapter_metrics, semantic_problems
from tooling.k8s.connection_budget import budget_problems
from tooling.k8s.parity import parity_problems
from tooling.k8s.problems import Problem
from tooling.k8s.rendering import OVERLAYS, Rendering, render, render_addons, render_combinations
from tooling.k8s.schema import K8S_VERSION, schema_problems

# Parity compares keys and config values; secret values only need a shape.
PARITY_SECRETS = Secrets(postgres_password="validate", api_keys=("validate",))


@dataclass
class Report:
    renderings: list[Rendering] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "kubernetes_version": K8S_VERSION,
            "rendered": {r.label: len(r.objects) for r in self.renderings},
            "problems": [{"check": p.check, "source": p.source, "object": p.subject, "message": p.message}
                         for p in self.problems],
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def validate(orchestration: Path, configs: Mapping[str, StackConfig], plans: Mapping[str, ImagePlan], *,
             checkov: bool = True, overlays: Iterable[str] = OVERLAYS,
             compose: Mapping[str, StackConfig] | None = None, compose_file: Path | None = None) -> Report:
    """Render every overlay (+ add-ons, + base with each component) and run all checks.

    `compose` (stage → config) with `compose_file` adds the compose target to the parity check."""
    report = Report()
    started = time.monotonic()
    addons = render_addons(orchestration)
    overlays = list(overlays)
    renderings = [render(orchestration, overlay, configs[overlay], plans[overlay]) for overlay in overlays]
    first = overlays[0]
    renderings += render_combinations(orchestration, configs[first], plans[first])
    renderings.append(addons)
    report.renderings = renderings
    report.seconds["render"] = time.monotonic() - started

    mark = time.monotonic()
    for rendering in renderings:
        report.problems += schema_problems(rendering)
    report.seconds["schemas"] = time.monotonic() - mark

    mark = time.monotonic()
    served = adapter_metrics(addons)
    for rendering in renderings:
        report.problems += semantic_problems(rendering, served)
    report.seconds["semantic"] = time.monotonic() - mark

    mark = time.monotonic()
    for rendering in renderings[:-1]:  # the add-ons run none of our services
        stage = rendering.label.removeprefix("overlay ") if rendering.label.startswith("overlay ") else first
        report.problems += parity_problems(rendering, configs[stage])
    if compose and compose_file is not None:
        text = compose_file.read_text()
        for stage, cfg in compose.items():
            report.problems += [Problem(f"compose {stage}", f"service/{service}", message, "parity")
                                for service, message in compose_env.parity_problems(text, cfg, PARITY_SECRETS)]
    report.seconds["parity"] = time.monotonic() - mark

    mark = time.monotonic()
    for overlay, rendering in zip(overlays, renderings[:len(overlays)], strict=True):
        report.problems += budget_problems(rendering, configs[overlay])
    report.seconds["budget"] = time.monotonic() - mark

    if checkov:
        mark = time.monotonic()
        report.problems += checkov_problems(renderings, orchestration / "checkov.yaml")
        report.seconds["checkov"] = time.monotonic() - mark
    return report


def summary(report: Report) -> str:
    lines = [f"  {r.label:<32} {len(r.objects):3d} objects" for r in report.renderings]
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    head = (f"validated against Kubernetes {K8S_VERSION} (strict schemas, semantic checks, config parity, "
            f"connection budget, checkov): {timing}")
    if report.ok:
        return "\n".join([head, *lines, f"✓ no problems in {len(report.renderings)} renderings"])
    return "\n".join([head, *lines, f"✗ {len(report.problems)} problem(s):", *(f"  {p}" for p in report.problems)])
