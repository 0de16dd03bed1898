"""A small, pure model of the worker HPA and the steps queue: does a cluster load scale out in time
and still meet the latency SLO? Used by tests/unit/test_hpa_model.py to choose the kind numbers.

The HPA (autoscaling/v2) as kube-controller-manager runs it. Checked against the Kubernetes docs,
kubernetes/website content/en/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale.md
("Algorithm details", "Configurable scaling behavior", "Default behavior"), and for the exact
arithmetic against replica_calculator.go GetObjectPerPodMetricReplicas as quoted from v1.34.1 and
horizontal.go calculateScale{Up,Down}Limit… as kept in forks of it (kubernetes/kubernetes itself is
too large to fetch here):
- every sync period (default 15 s, --horizontal-pod-autoscaler-sync-period) it reads the metric;
- an Object metric with an AverageValue target is divided by the replica count before it is
  compared ("this value can optionally be divided by the number of Pods"): ratio = value /
  (target × replicas); inside the tolerance (|1 − ratio| ≤ 0.1 by default,
  --horizontal-pod-autoscaler-tolerance) nothing changes, else desired = ceil(value / target).
  v1.34.1 divides by the scale's status replicas (pods created, ready or not); the docs now say
  "the number of Running and Ready Pods" — `ready_divisor` models that variant (it can only make a
  rise come sooner: a smaller divisor leaves the tolerance band earlier; desired is the same);
- stabilization: the result is kept between the lowest recommendation of the scale-up window and
  the highest of the scale-down window (both including this one); the defaults are 0 s up, 300 s
  down (--horizontal-pod-autoscaler-downscale-stabilization) — our HPAs set both explicitly;
- a rise is capped by the scale-up policies (Pods: start + value; Percent: ceil(start × (1 +
  value/100)); selectPolicy Max, the default, takes the largest), a fall by the scale-down policies
  (Pods: start − value; Percent: int(start × (1 − value/100)); Max takes the lowest). "start" is
  the replicas at the start of the policy's period: current − added + deleted within it (both
  directions' events count, whichever way this change goes); then min/maxReplicas. Default
  policies (unused here, our HPAs set them): up max(100 %, 4 pods) per 15 s, down 100 % per 15 s.

The queue (Redis Streams, services/stackyard/common/streams.py): each worker runs `concurrency`
read loops, each reading one entry (XREADGROUP COUNT 1) and acknowledging it when the step is
done, so a worker serves `concurrency / step_seconds` steps per second. The orchestrator exports
per stream `stackyard_queue_backlog` (the group's lag: entries no loop has read yet, above zero
only while every loop is busy) and `stackyard_pending_entries` (read, not yet acknowledged: the
steps in service). Two signals: "backlog" (lag alone) and "in_flight" (lag + pending: every step
the workers owe, which rises with the load before any loop is short). Fluid approximation: the
backlog grows at (arrivals − capacity), a step waits backlog / capacity before a loop takes it,
and the steps in service are min(arrivals × step time, loops) (Little's law) — no randomness.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tooling.errors import StackyardError
from tooling.loadtest import profiles

# The worker HPA's custom metrics (addons/prometheus-adapter/config.yaml) and what each counts.
SIGNALS = {"stackyard_steps_in_flight": "in_flight", "stackyard_steps_backlog": "backlog"}
SYNC_SECONDS = 15.0  # kube-controller-manager --horizontal-pod-autoscaler-sync-period default
TOLERANCE = 0.1  # kube-controller-manager --horizontal-pod-autoscaler-tolerance default


@dataclass(frozen=True)
class Policy:
    type: str  # Pods | Percent
    value: int
    period_seconds: float


@dataclass(frozen=True)
class Rules:
    stabilization_seconds: float
    select: str  # Max | Min | Disabled
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Autoscaler:
    min_replicas: int
    max_replicas: int
    target: float  # AverageValue: the signal per worker
    up: Rules
    down: Rules
    signal: str = "in_flight"  # what the metric counts: a value of SIGNALS
    tolerance: float = TOLERANCE
    sync_seconds: float = SYNC_SECONDS


def _rules(behavior: Mapping[str, Any]) -> Rules:
    return Rules(float(behavior["stabilizationWindowSeconds"]), str(behavior.get("selectPolicy", "Max")),
                 tuple(Policy(p["type"], int(p["value"]), float(p["periodSeconds"])) for p in behavior["policies"]))


def autoscaler(hpa: Mapping[str, Any]) -> Autoscaler:
    """The model of one rendered HorizontalPodAutoscaler with one Object metric and an AverageValue target."""
    spec = hpa["spec"]
    metrics = spec["metrics"]
    metric = metrics[0].get("object", {}) if len(metrics) == 1 else {}
    target, name = metric.get("target", {}), metric.get("metric", {}).get("name")
    if target.get("type") != "AverageValue" or "behavior" not in spec or name not in SIGNALS:
        raise StackyardError(f"HPA {hpa['metadata']['name']!r} is not one Object metric of {', '.join(SIGNALS)} "
                             "with an AverageValue target and explicit behavior",
                             "the model covers the worker HPA of components/autoscaling")
    return Autoscaler(int(spec.get("minReplicas", 1)), int(spec["maxReplicas"]), quantity(str(target["averageValue"])),
                      _rules(spec["behavior"]["scaleUp"]), _rules(spec["behavior"]["scaleDown"]), SIGNALS[name])


def quantity(text: str) -> float:
    """A Kubernetes quantity as the HPA's metrics are written: `10`, `500m`, `2k`."""
    scale = {"m": 1e-3, "k": 1e3, "M": 1e6}
    return float(text[:-1]) * scale[text[-1]] if text[-1] in scale else float(text)


def proposal(current: int, value: float, target: float, tolerance: float = TOLERANCE,
             divisor: int | None = None) -> int:
    """replica_calculator.go GetObjectPerPodMetricReplicas: the raw recommendation before behavior;
    `divisor` is the pod count the value is divided by (status replicas, or ready pods), `current` by default."""
    ratio = value / (target * max(1, divisor if divisor is not None else current))
    return current if abs(1.0 - ratio) <= tolerance else math.ceil(value / target)


@dataclass
class Controller:
    """One HPA's memory between syncs: its recommendations and its scale events."""
    hpa: Autoscaler
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)  # (time, change in replicas)

    def _start(self, now: float, current: int, period: float) -> int:
        # periodStartReplicas = current − added + deleted in the period (horizontal.go; both directions)
        return current - sum(c for t, c in self.events if t > now - period)

    def _limit(self, now: float, current: int, rising: bool) -> int:
        rules = self.hpa.up if rising else self.hpa.down
        if rules.select == "Disabled":
            return current
        found = []
        for policy in rules.policies:
            start = self._start(now, current, policy.period_seconds)
            if policy.type == "Pods":
                found.append(start + policy.value if rising else start - policy.value)
            elif rising:
                found.append(math.ceil(start * (1 + policy.value / 100)))
            else:
                found.append(int(start * (1 - policy.value / 100)))
        widest = max if (rules.select == "Max") == rising else min
        return widest(found)

    def sync(self, now: float, current: int, value: float, divisor: int | None = None) -> int:
        hpa = self.hpa
        raw = proposal(current, value, hpa.target, hpa.tolerance, divisor)
        up = min([raw, *(r for t, r in self.recommendations if t > now - hpa.up.stabilization_seconds)])
        down = max([raw, *(r for t, r in self.recommendations if t > now - hpa.down.stabilization_seconds)])
        self.recommendations.append((now, raw))
        wanted = min(max(current, up), down)
        if wanted > current:
            wanted = min(wanted, hpa.max_replicas, max(current, self._limit(now, current, rising=True)))
        elif wanted < current:
            wanted = max(wanted, hpa.min_replicas, min(current, self._limit(now, current, rising=False)))
        wanted = min(max(wanted, hpa.min_replicas), hpa.max_replicas)
        if wanted != current:
            self.events.append((now, wanted - current))
        return wanted


@dataclass(frozen=True)
class Workers:
    concurrency: int
    step_seconds: float  # one step, start to end, with every loop busy

    @property
    def capacity(self) -> float:
        return self.concurrency / self.step_seconds


def step_seconds(first_token_ms: float, tokens_per_second: float, tokens: int, overhead_seconds: float) -> float:
    """A step's time in a worker: the simulated model's latency (services/stackyard/model/app.py sleeps
    first_token_ms, then one token per 1/tokens_per_second) plus memory, Postgres and Redis round trips."""
    return first_token_ms / 1000 + tokens / tokens_per_second + overhead_seconds


@dataclass(frozen=True)
class TaskKind:
    share: float  # of the task arrivals
    steps: int  # run one after the other (a planner's synthesis waits for its subtask)


@dataclass(frozen=True)
class Delays:
    metric_age_seconds: float  # the metric as the HPA reads it: this old (gauge refresh + scrape interval)
    pod_ready_seconds: float  # from the HPA's decision to a worker reading steps (and counted ready)
    sync_phase_seconds: float  # the first HPA sync after the load starts


def task_rate(plan: Sequence[profiles.Stage], user_interval_seconds: float, task_share: float) -> Callable[[float],
                                                                                                          float]:
    """Tasks per second at time t of an open-loop run: each user starts a run every interval (locust
    constant_pacing), `task_share` of the runs submit a task; users move at the stage's spawn rate."""
    def users_at(t: float) -> float:
        users, start = 0.0, 0.0
        for stage in plan:
            span = min(t, stage.end) - start
            if span <= 0:
                break
            move = span * stage.spawn_rate
            users = min(stage.users, users + move) if stage.users >= users else max(stage.users, users - move)
            start = stage.end
        return users if t < plan[-1].end else 0.0
    return lambda t: users_at(t) * task_share / user_interval_seconds


@dataclass
class Run:
    dt: float
    times: list[float]
    replicas: list[int]  # as the HPA set them
    ready: list[int]  # reading steps
    backlog: list[float]
    wait: list[float]  # seconds a step arriving then waits for a free loop
    tasks: list[float]  # tasks per second arriving

    def first_time_ready(self, replicas: int) -> float | None:
        return next((t for t, n in zip(self.times, self.ready, strict=True) if n >= replicas), None)

    def wait_at(self, t: float) -> float:
        return self.wait[min(len(self.wait) - 1, max(0, int(t / self.dt)))]

    def completion_quantile(self, kinds: Sequence[TaskKind], workers: Workers, overhead_seconds: float,
                            q: float = 0.95) -> float:
        """Seconds submit → completed that `q` of the tasks beat: each step waits, then runs; the
        client's accept, polling and the orchestrator add `overhead_seconds` per task."""
        weighted = []
        for t, rate in zip(self.times, self.tasks, strict=True):
            for kind in kinds:
                now = t
                for _ in range(kind.steps):
                    now += self.wait_at(now) + workers.step_seconds
                weighted.append((now - t + overhead_seconds, rate * kind.share * self.dt))
        weighted.sort()
        total = sum(w for _, w in weighted)
        seen = 0.0
        for seconds, weight in weighted:
            seen += weight
            if seen >= q * total:
                return seconds
        return weighted[-1][0] if weighted else 0.0


def simulate(hpa: Autoscaler, workers: Workers, tasks: Callable[[float], float], kinds: Sequence[TaskKind],
             delays: Delays, duration: float, dt: float = 0.1, ready_divisor: bool = False) -> Run:
    """The backlog, the waits and the worker replicas over `duration` seconds, from replicas at the minimum.
    The HPA's metric counts `hpa.signal`; `ready_divisor` divides it by the ready workers instead of the
    status replicas (see the module's notes)."""
    if hpa.signal not in SIGNALS.values():
        raise ValueError(f"unknown signal {hpa.signal!r}; known: {', '.join(SIGNALS.values())}")
    controller = Controller(hpa)
    steps_per_task = sum(k.share * k.steps for k in kinds)
    run = Run(dt, [], [], [], [], [], [])
    replicas, ready, backlog = hpa.min_replicas, hpa.min_replicas, 0.0
    arrivals: list[tuple[float, int]] = []  # (ready at, replicas)
    signals: list[float] = []  # the metric's value at each tick, as the orchestrator exports it
    next_sync = delays.sync_phase_seconds
    lag_samples = max(0, round(delays.metric_age_seconds / dt))
    for i in range(int(duration / dt)):
        t = i * dt
        if t >= next_sync:
            seen = signals[max(0, len(signals) - 1 - lag_samples)] if signals else 0.0
            wanted = controller.sync(t, replicas, seen, ready if ready_divisor else None)
            if wanted != replicas:
                arrivals.append((t + (delays.pod_ready_seconds if wanted > replicas else 0.0), wanted))
                replicas = wanted
            next_sync += hpa.sync_seconds
        ready = hpa.min_replicas
        for at, count in arrivals:
            if at <= t:
                ready = count
        capacity = ready * workers.capacity
        rate = tasks(t)
        steps = rate * steps_per_task
        backlog = max(0.0, backlog + (steps - capacity) * dt)
        loops = ready * workers.concurrency
        in_service = float(loops) if backlog > 0 else min(float(loops), steps * workers.step_seconds)
        signals.append(backlog + (in_service if hpa.signal == "in_flight" else 0.0))
        run.times.append(t)
        run.replicas.append(replicas)
        run.ready.append(ready)
        run.backlog.append(backlog)
        run.wait.append(backlog / capacity)
        run.tasks.append(rate)
    return run
