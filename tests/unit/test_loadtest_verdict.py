"""The verdict logic on recorded samples: load SLOs, the generator self-watch, and scaling SLOs."""

import json
from pathlib import Path

import pytest

from tooling import config
from tooling.config import LoadProfile, ScalingSlo
from tooling.loadtest.analysis import parse, summarise
from tooling.loadtest.sampler import ReplicaSample
from tooling.loadtest.verdict import EXIT_BREACH, EXIT_PASS, decide, load_slos, scaling_slos

FIXTURES = Path(__file__).parent / "fixtures" / "loadtest"
ROOT = Path(__file__).resolve().parents[2]
# The SLOs as envs/base.yaml sets them (the models have no defaults of their own).
BASE_SLO = config.load("dev", ROOT / "envs", environ={}).loadtest.slo
SLO = ScalingSlo(component="worker", min_replicas=2, scale_out_within_seconds=180, scale_in_within_seconds=420)
LOAD_START, LOAD_END = 1000.0, 1300.0  # the recorded timelines: load for 300 s


def timeline(name: str) -> list[ReplicaSample]:
    return [ReplicaSample.from_dict(item) for item in json.loads((FIXTURES / f"replicas-{name}.json").read_text())]


def lines(accept_ms: list[float], task_ms: list[float], failed_tasks: int = 0, cpu: float = 0.2) -> list[str]:
    out = [json.dumps({"k": "note", "t": 0.0, "planner": False})]
    for i, ms in enumerate(accept_ms):
        out.append(json.dumps({"k": "req", "t": 1 + i * 0.1, "n": "POST /v1/tasks [chat]", "ms": ms, "ok": True}))
    for i, ms in enumerate(task_ms):
        ok = i >= failed_tasks
        out.append(json.dumps({"k": "task", "t": 1 + i * 0.1, "n": "chat end to end", "ms": ms, "ok": ok,
                               **({} if ok else {"e": "task failed: injected failure"})}))
    out += [json.dumps({"k": "cpu", "t": float(t), "cpu": cpu, "users": 5}) for t in range(1, 11)]
    out.append(json.dumps({"k": "end", "t": 10.0}))
    return out


def by_name(results: list) -> dict:  # type: ignore[type-arg]
    return {r.name: r for r in results}


PROFILE = LoadProfile(users=5, spawn_rate=5, duration_seconds=10, min_tasks_per_second=1)


def test_a_healthy_run_passes_every_load_slo() -> None:
    summary = summarise(parse(lines([10.0] * 100, [200.0] * 100)))
    verdict = decide(load_slos(summary, BASE_SLO, PROFILE), summary, 0.9)
    assert verdict.passed and verdict.exit_code == EXIT_PASS
    assert by_name(verdict.slos)["accept_p95"].measured == 10.0
    assert not verdict.generator_bound and not verdict.warnings


def test_a_slow_model_breaches_the_completion_slo_only() -> None:
    summary = summarise(parse(lines([10.0] * 100, [200.0] * 80 + [1500.0] * 20)))
    results = by_name(load_slos(summary, BASE_SLO.model_copy(update={"completion_p95_ms": 1000}), PROFILE))
    assert results["completion_p95"].passed is False and results["completion_p95"].measured == 1500.0
    assert results["accept_p95"].passed and results["task_error_rate"].passed
    assert decide(list(results.values()), summary, 0.9).exit_code == EXIT_BREACH


def test_failed_tasks_breach_the_task_error_rate_with_the_count_in_the_detail() -> None:
    summary = summarise(parse(lines([10.0] * 50, [200.0] * 50, failed_tasks=10)))
    slo = BASE_SLO.model_copy(update={"max_error_rate": 0.01})
    result = by_name(load_slos(summary, slo, PROFILE))["task_error_rate"]
    assert (result.passed, result.measured, result.detail) == (False, 0.2, "10 of 50")
    assert "task failed: injected failure" in next(iter(summary.errors))


def test_nothing_measured_is_a_failure_not_a_pass() -> None:
    summary = summarise(parse(lines([], [])))
    results = by_name(load_slos(summary, BASE_SLO, PROFILE))
    assert results["accept_p50"].passed is False and results["accept_p50"].detail == "no samples to measure it from"


def test_a_cpu_bound_generator_is_called_out() -> None:
    summary = summarise(parse(lines([10.0] * 100, [200.0] * 100, cpu=0.97)))
    verdict = decide(load_slos(summary, BASE_SLO, PROFILE), summary, 0.9)
    assert verdict.generator_bound
    assert "measure the generator" in verdict.warnings[0]


def test_scaling_out_and_back_in_time_passes() -> None:
    out, back = scaling_slos(timeline("scale-out-in-time"), SLO, LOAD_START, LOAD_END)
    assert (out.passed, out.measured) == (True, 65.0)
    assert (back.passed, back.measured) == (True, 150.0)


def test_scaling_out_too_slowly_fails_with_the_time_it_took() -> None:
    out, back = scaling_slos(timeline("scale-out-too-slow"), SLO, LOAD_START, LOAD_END)
    assert (out.passed, out.measured, out.threshold) == (False, 250.0, 180)
    assert back.passed


def test_never_scaling_back_fails_and_says_how_many_are_left() -> None:
    out, back = scaling_slos(timeline("never-scaled-back"), SLO, LOAD_START, LOAD_END)
    assert out.passed
    assert back.passed is False and back.measured is None
    assert back.detail == "never scaled back (still 4 after 450s)"


def test_never_scaling_out_names_the_peak() -> None:
    flat = [ReplicaSample(LOAD_START + t, {"worker": 1}, {"worker": 1}, {"worker": 1}) for t in range(0, 400, 10)]
    out, back = scaling_slos(flat, SLO, LOAD_START, LOAD_END)
    assert (out.passed, out.detail) == (False, "never reached 2 (peak 1)")
    assert back.passed  # it never left its minimum


@pytest.mark.parametrize("component", ["gateway"])
def test_scaling_slos_follow_the_configured_component(component: str) -> None:
    out, _ = scaling_slos(timeline("scale-out-in-time"), SLO.model_copy(update={"component": component}),
                          LOAD_START, LOAD_END)
    assert out.passed is False and "gateway" in out.description
