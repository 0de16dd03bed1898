"""The HPA model (tooling/loadtest/hpa_model.py) against the controller's rules, then the kind run.

The kind figures come from the kind stage's config (envs), the rendered kind overlay's worker HPA
and the cluster Prometheus scrape interval; nothing is restated here but the assumptions below.
Assumptions (not measurable on this machine, where no cluster can start):
- a step's model answer is ~12 tokens (answers repeat the short inputs); memory, Postgres and Redis
  round trips add 20–80 ms per step (both ends are computed);
- a new worker reads steps 15 s after the HPA's decision (schedule, start, connect; image loaded);
- the backlog the HPA reads is as old as the orchestrator's gauge refresh plus one scrape interval
  (worst case), and the first HPA sync falls anywhere in its 15 s period (every phase is computed);
- the client's accept, polling (0.1 s) and the orchestrator's hand-offs add 0.3 s per task;
- the queue is fluid: no randomness in arrivals or service times;
- the HPA divides the metric by its status replicas (v1.34) or by the ready pods (the current
  docs): both are computed.
"""

import math
from pathlib import Path

import pytest
import yaml

from services.stackyard.common.settings import OrchestratorSettings
from services.stackyard.orchestrator import planning
from tooling import config, images, k8s
from tooling.errors import StackyardError
from tooling.k8s import rendering
from tooling.loadtest import hpa_model, profiles, runner

ROOT = Path(__file__).resolve().parents[2]
TOKENS = 12
OVERHEADS = (0.02, 0.08)
POD_READY_SECONDS = 15.0
TASK_OVERHEAD_SECONDS = 0.3
PHASES = (0.0, 5.0, 10.0)


def rules(stabilization: float, *policies: hpa_model.Policy) -> hpa_model.Rules:
    return hpa_model.Rules(stabilization, "Max", policies)


FAST = hpa_model.Autoscaler(1, 4, 10.0, rules(0, hpa_model.Policy("Percent", 100, 15), hpa_model.Policy("Pods", 2, 15)),
                            rules(120, hpa_model.Policy("Percent", 50, 30)))


def test_inside_the_tolerance_nothing_changes_outside_it_is_ceil_of_value_over_target() -> None:
    assert hpa_model.proposal(1, 10.5, 10.0) == 1  # ratio 1.05: inside the 0.1 tolerance (1.1 itself is
    # float-edge: 1 − 1.1 is −0.10000000000000009 in Go too, so exactly 1.1 scales)
    assert hpa_model.proposal(1, 12.0, 10.0) == 2
    assert hpa_model.proposal(2, 21.0, 10.0) == 2  # AverageValue: 21 / (10 × 2) = 1.05
    assert hpa_model.proposal(2, 45.0, 10.0) == 5
    assert hpa_model.proposal(3, 0.0, 10.0) == 0  # the controller then applies minReplicas
    assert hpa_model.proposal(3, 31.0, 10.0) == 3  # 31 / (10 × 3): inside the tolerance …
    assert hpa_model.proposal(3, 31.0, 10.0, divisor=2) == 4  # … but not over 2 ready pods: ceil(3.1)


def test_policies_cap_the_rise_and_stabilization_delays_the_fall() -> None:
    controller = hpa_model.Controller(FAST)
    assert controller.sync(0, 1, 100.0) == 3  # max(100 % → 2, +2 pods → 3)
    assert controller.sync(15, 3, 100.0) == 4  # maxReplicas
    assert controller.sync(30, 4, 0.0) == 4  # the 120 s window still holds the high recommendations
    assert controller.sync(150, 4, 0.0) == 2  # then at most half per 30 s
    assert controller.sync(165, 2, 0.0) == 2
    assert controller.sync(180, 2, 0.0) == 1


def test_a_policy_period_starts_from_the_net_change_of_both_directions() -> None:
    """horizontal.go: periodStartReplicas = current − added + deleted within the period."""
    hpa = hpa_model.Autoscaler(1, 10, 10.0, rules(0, hpa_model.Policy("Pods", 2, 60)),
                               rules(0, hpa_model.Policy("Pods", 1, 60)))
    controller = hpa_model.Controller(hpa)
    assert controller.sync(0, 4, 30.0) == 3  # −1 pod per 60 s
    assert controller.sync(15, 3, 100.0) == 6  # the period started at 4 (3 + the one removed): 4 + 2


def test_the_in_flight_signal_counts_the_steps_in_service_and_the_backlog_does_not() -> None:
    workers = hpa_model.Workers(2, 0.2)  # 10 steps/s
    kinds = [hpa_model.TaskKind(1.0, 1)]
    for signal, replicas in (("in_flight", 2), ("backlog", 1)):
        hpa = hpa_model.Autoscaler(1, 4, 1.0, FAST.up, FAST.down, signal)
        # 7 steps/s: 1.4 steps in service, under one worker's 2 loops; no backlog ever builds
        run = hpa_model.simulate(hpa, workers, lambda t: 7.0, kinds, hpa_model.Delays(0, 0, 0), 60)
        assert max(run.backlog) == 0 and run.replicas[-1] == replicas
    with pytest.raises(ValueError, match="unknown signal"):
        hpa = hpa_model.Autoscaler(1, 4, 1.0, FAST.up, FAST.down, "lag")
        hpa_model.simulate(hpa, workers, lambda t: 7.0, kinds, hpa_model.Delays(0, 0, 0), 1)


def test_the_model_reads_the_worker_hpa_and_refuses_what_it_does_not_cover() -> None:
    cfg, hpa, _ = kind_setup()
    # steps in flight, with a target under a worker's loops: a worker is added before one is full
    assert hpa.signal == "in_flight" and hpa.target < cfg.worker.concurrency
    with pytest.raises(StackyardError, match="is not one Object metric"):
        hpa_model.autoscaler({"metadata": {"name": "gateway"}, "spec": {"maxReplicas": 3, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization"}}}]}})


def test_quantities_parse_as_the_hpa_writes_them() -> None:
    assert hpa_model.quantity("10") == 10 and hpa_model.quantity("500m") == 0.5


def kind_setup() -> tuple[config.StackConfig, hpa_model.Autoscaler, float]:
    cfg = config.load("kind", ROOT / "envs", environ={})
    plan = images.make_plan(cfg, ROOT, "upstream", tag="0123abc")
    objects = rendering.render(ROOT / k8s.ORCHESTRATION, "kind", cfg, plan).objects
    worker = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == "worker")
    scrape = yaml.safe_load((ROOT / "deploy/monitoring/kubernetes/prometheus.yml").read_text())["global"]
    age = float(scrape["scrape_interval"].rstrip("s")) + OrchestratorSettings.model_fields[
        "reconcile_interval_seconds"].default
    return cfg, hpa_model.autoscaler(worker), age


def kind_load(cfg: config.StackConfig) -> tuple[list[hpa_model.TaskKind], float, list[profiles.Stage]]:
    """The task kinds of runner.DEFAULT_MIX (the planner's steps from the orchestrator's own planning)."""
    mix = {name: int(weight) for name, _, weight in (p.partition(":") for p in runner.DEFAULT_MIX.split(","))}
    tasks = mix["chat"] + mix["planner"]
    kinds = [hpa_model.TaskKind(mix["chat"] / tasks, 1),
             hpa_model.TaskKind(mix["planner"] / tasks, len(planning.plan("planner", "plan the rollout for friday")))]
    step = cfg.loadtest.profiles.step
    return kinds, tasks / sum(mix.values()), profiles.stages("step", step.users, step.spawn_rate, step.duration_seconds)


def runs(cfg: config.StackConfig, hpa: hpa_model.Autoscaler, age: float) -> list[tuple[float, float]]:
    """(seconds to min_replicas ready, completion p95 in seconds) for every assumption's end and phase."""
    kinds, share, plan = kind_load(cfg)
    assert cfg.loadtest.arrival.open_loop, "the kind run must be open loop, or no backlog ever builds"
    rate = hpa_model.task_rate(plan, cfg.loadtest.arrival.user_interval_seconds, share)
    found = []
    for overhead in OVERHEADS:
        workers = hpa_model.Workers(cfg.worker.concurrency, hpa_model.step_seconds(
            cfg.model.first_token_ms, cfg.model.tokens_per_second, TOKENS, overhead))
        for phase in PHASES:
            for ready_divisor in (False, True):
                run = hpa_model.simulate(hpa, workers, rate, kinds, hpa_model.Delays(age, POD_READY_SECONDS, phase),
                                         plan[-1].end, dt=0.25, ready_divisor=ready_divisor)
                reached = run.first_time_ready(cfg.loadtest.scaling_slo.min_replicas)
                found.append((math.inf if reached is None else reached,
                              run.completion_quantile(kinds, workers, TASK_OVERHEAD_SECONDS)))
    return found


def test_the_kind_step_profile_must_scale_the_workers_out_in_time() -> None:
    cfg, hpa, age = kind_setup()
    kinds, share, plan = kind_load(cfg)
    peak_steps = profiles.peak_users(plan) / cfg.loadtest.arrival.user_interval_seconds * share * sum(
        k.share * k.steps for k in kinds)
    fastest = hpa_model.Workers(cfg.worker.concurrency, hpa_model.step_seconds(
        cfg.model.first_token_ms, cfg.model.tokens_per_second, TOKENS, 0.0))
    # Even with no overhead at all, the top stair needs more than one worker (and beyond the tolerance),
    assert peak_steps > (1 + hpa.tolerance) * fastest.capacity * hpa.min_replicas
    # and its steps in flight (Little's law) ask the HPA for the SLO's replicas.
    assert hpa_model.proposal(hpa.min_replicas, peak_steps * fastest.step_seconds, hpa.target) >= (
        cfg.loadtest.scaling_slo.min_replicas)
    slowest = hpa_model.Workers(cfg.worker.concurrency, hpa_model.step_seconds(
        cfg.model.first_token_ms, cfg.model.tokens_per_second, TOKENS, max(OVERHEADS)))
    assert peak_steps < slowest.capacity * hpa.max_replicas  # and maxReplicas can carry it
    seconds = [reached for reached, _ in runs(cfg, hpa, age)]
    print(f"min_replicas reached after {min(seconds):.0f}–{max(seconds):.0f}s")
    assert max(seconds) <= cfg.loadtest.scaling_slo.scale_out_within_seconds


def test_the_kind_step_profile_keeps_completion_p95_under_the_slo_in_the_worst_case() -> None:
    cfg, hpa, age = kind_setup()
    p95 = [p for _, p in runs(cfg, hpa, age)]
    print(f"predicted completion p95 {min(p95):.2f}–{max(p95):.2f}s")
    assert max(p95) * 1000 <= cfg.loadtest.slo.completion_p95_ms
