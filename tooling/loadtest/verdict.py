"""The verdict of a load run: each SLO with its measured value, its threshold and pass/fail.

Plain functions over plain data: a Summary of the samples (analysis.py), the
replica samples (sampler.py) and the SLOs from config. Cluster runs add scaling
SLOs: the component reached N replicas within T seconds of the load starting, and came back to
its HPA minimum within T2 seconds of the load ending.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from tooling import errors
from tooling.config import LoadProfile, LoadSlo, ScalingSlo
from tooling.loadtest.analysis import Summary
from tooling.loadtest.sampler import ReplicaSample

# `inv loadtest`: 0 every SLO held, 1 an SLO was breached, 2 the run could not be made (tooling/errors.py policy).
EXIT_PASS, EXIT_BREACH, EXIT_NO_RUN = 0, errors.EXIT_FAILED, errors.EXIT_COULD_NOT_START


@dataclass
class SloResult:
    name: str
    description: str
    measured: float | None
    threshold: float
    comparison: str  # "<=" or ">="
    unit: str
    passed: bool
    detail: str = ""


def check(name: str, description: str, measured: float | None, threshold: float, comparison: str,
          unit: str, detail: str = "") -> SloResult:
    if measured is None:
        return SloResult(name, description, None, threshold, comparison, unit, False,
                         detail or "no samples to measure it from")
    passed = measured <= threshold if comparison == "<=" else measured >= threshold
    return SloResult(name, description, round(measured, 4), threshold, comparison, unit, passed, detail)


def load_slos(summary: Summary, slo: LoadSlo, profile: LoadProfile) -> list[SloResult]:
    return [
        check("accept_p50", "accepting a task (POST /v1/tasks → 202), median", summary.accept_p50_ms,
              slo.accept_p50_ms, "<=", "ms"),
        check("accept_p95", "accepting a task, 95th percentile", summary.accept_p95_ms, slo.accept_p95_ms, "<=", "ms"),
        check("accept_p99", "accepting a task, 99th percentile", summary.accept_p99_ms, slo.accept_p99_ms, "<=", "ms"),
        check("completion_p95", "task submitted → completed (client polling), 95th percentile",
              summary.completion_p95_ms, slo.completion_p95_ms, "<=", "ms"),
        check("http_error_rate", "HTTP requests that failed", summary.request_error_rate if summary.requests else None,
              slo.max_error_rate, "<=", "ratio", f"{summary.request_errors} of {summary.requests}"),
        check("task_error_rate", "tasks that failed or timed out", summary.task_error_rate if summary.tasks else None,
              slo.max_error_rate, "<=", "ratio", f"{summary.tasks_failed} of {summary.tasks}"),
        check("throughput", "completed tasks per second over the run", summary.tasks_per_second,
              profile.min_tasks_per_second, ">=", "tasks/s"),
    ]


def scaling_slos(samples: list[ReplicaSample], slo: ScalingSlo, load_start: float, load_end: float) -> list[SloResult]:
    """Scale-out in time (from the load's start) and scale-in in time (from the load's end)."""
    component = slo.component
    seen = [s for s in samples if component in s.replicas]
    out_at = next((s.t for s in seen if s.t >= load_start and s.replicas[component] >= slo.min_replicas), None)
    peak = max((s.replicas[component] for s in seen if s.t >= load_start), default=0)
    if out_at is None:
        scale_out = SloResult("scale_out", f"{component} reaches {slo.min_replicas} ready replicas after the load "
                              "starts", None, slo.scale_out_within_seconds, "<=", "s", False,
                              f"never reached {slo.min_replicas} (peak {peak})")
    else:
        scale_out = check("scale_out", f"{component} reaches {slo.min_replicas} ready replicas after the load starts",
                          out_at - load_start, slo.scale_out_within_seconds, "<=", "s", f"peak {peak}")
    minimum = next((s.minimum[component] for s in reversed(seen) if component in s.minimum), 1)
    after = [s for s in seen if s.t >= load_end]
    back_at = next((s.t for s in after if s.replicas[component] <= minimum
                    and s.desired.get(component, minimum) <= minimum), None)
    description = f"{component} back to its minimum ({minimum}) after the load ends"
    if back_at is None:
        last = after[-1] if after else (seen[-1] if seen else None)
        still = f"still {last.replicas[component]} after {last.t - load_end:.0f}s" if last else "no samples"
        scale_in = SloResult("scale_in", description, None, slo.scale_in_within_seconds, "<=", "s", False,
                             f"never scaled back ({still})")
    else:
        scale_in = check("scale_in", description, back_at - load_end, slo.scale_in_within_seconds, "<=", "s")
    return [scale_out, scale_in]


@dataclass
class Verdict:
    passed: bool
    slos: list[SloResult]
    warnings: list[str] = field(default_factory=list)
    generator_bound: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.passed else EXIT_BREACH

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "generator_bound": self.generator_bound, "warnings": self.warnings,
                "slos": [asdict(s) for s in self.slos]}


def generator_warning(summary: Summary, limit: float) -> str:
    """Non-empty when locust itself was CPU-bound for a good part of the run (p75 of 1-s samples)."""
    if summary.generator_cpu_p75 is not None and summary.generator_cpu_p75 >= limit:
        return (f"the load generator was CPU-bound (locust at {summary.generator_cpu_p75:.0%} of a core for a "
                f"quarter of the run or more, limit {limit:.0%}): these figures measure the generator, not the "
                "stack — use fewer users, or run locust on another machine")
    return ""


def decide(slos: list[SloResult], summary: Summary, cpu_limit: float, notes: list[str] | None = None) -> Verdict:
    warnings = list(notes or [])
    bound = generator_warning(summary, cpu_limit)
    if bound:
        warnings.insert(0, bound)
    return Verdict(all(s.passed for s in slos), slos, warnings, bool(bound))
