"""Raw load samples → exact figures and time series (plain functions over plain data).

The locustfile writes one JSON line per request (`req`), per finished task (`task`, end to end),
per second of generator CPU (`cpu`), plus a `note` at the start and an `end`. Percentiles here are
exact (nearest rank over every sample); locust's own CSVs round response times to about two
significant digits, so they are kept as raw artefacts but not judged.
"""

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCEPT_PREFIX = "POST /v1/tasks"


@dataclass(frozen=True)
class Sample:
    kind: str  # req | task
    t: float
    name: str
    ms: float
    ok: bool
    error: str = ""


@dataclass
class Samples:
    requests: list[Sample] = field(default_factory=list)
    tasks: list[Sample] = field(default_factory=list)
    cpu: list[tuple[float, float, int]] = field(default_factory=list)  # (t, share of a core, users)
    note: dict[str, Any] = field(default_factory=dict)
    start: float = 0.0
    end: float = 0.0

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 1e-9)


def parse(lines: Iterable[str]) -> Samples:
    samples = Samples()
    times: list[float] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed generator
        t = float(item.get("t", 0.0))
        kind = item.get("k")
        if kind in ("req", "task"):
            sample = Sample(kind, t, str(item["n"]), float(item["ms"]), bool(item["ok"]), str(item.get("e", "")))
            (samples.requests if kind == "req" else samples.tasks).append(sample)
            times.append(t)
        elif kind == "cpu":
            samples.cpu.append((t, float(item["cpu"]), int(item.get("users", 0))))
        elif kind == "note":
            samples.note = item
            times.append(t)
        elif kind == "end":
            times.append(t)
    if times:
        samples.start, samples.end = min(times), max(times)
    return samples


def read(path: Path) -> Samples:
    if not path.exists():
        return Samples()
    with path.open() as handle:
        return parse(handle)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def is_accept(sample: Sample) -> bool:
    return sample.name.startswith(ACCEPT_PREFIX)


@dataclass
class Summary:
    duration_s: float
    requests: int
    request_errors: int
    accepted: int
    accept_p50_ms: float | None
    accept_p95_ms: float | None
    accept_p99_ms: float | None
    tasks: int
    tasks_failed: int
    completion_p50_ms: float | None
    completion_p95_ms: float | None
    completion_p99_ms: float | None
    tasks_per_second: float
    requests_per_second: float
    generator_cpu_p75: float | None
    generator_cpu_max: float | None
    errors: dict[str, int]

    @property
    def request_error_rate(self) -> float:
        return self.request_errors / self.requests if self.requests else 0.0

    @property
    def task_error_rate(self) -> float:
        return self.tasks_failed / self.tasks if self.tasks else 0.0


def summarise(samples: Samples, window: tuple[float, float] | None = None) -> Summary:
    """Figures over the whole run, or over `window` (seconds since the start)."""
    start, end = (samples.start, samples.end) if window is None else \
        (samples.start + window[0], samples.start + window[1])
    requests = [s for s in samples.requests if start <= s.t <= end]
    tasks = [s for s in samples.tasks if start <= s.t <= end]
    accepted = [s.ms for s in requests if is_accept(s) and s.ok]
    completed = [s.ms for s in tasks if s.ok]
    cpu = [c for t, c, users in samples.cpu if start <= t <= end and users > 0]
    errors: dict[str, int] = {}
    for sample in (*requests, *tasks):
        if not sample.ok:
            key = f"{sample.name}: {sample.error}"[:160]
            errors[key] = errors.get(key, 0) + 1
    duration = max(end - start, 1e-9)
    return Summary(
        duration_s=round(duration, 1), requests=len(requests),
        request_errors=sum(1 for s in requests if not s.ok), accepted=len(accepted),
        accept_p50_ms=percentile(accepted, 50), accept_p95_ms=percentile(accepted, 95),
        accept_p99_ms=percentile(accepted, 99), tasks=len(tasks), tasks_failed=sum(1 for s in tasks if not s.ok),
        completion_p50_ms=percentile(completed, 50), completion_p95_ms=percentile(completed, 95),
        completion_p99_ms=percentile(completed, 99), tasks_per_second=len(completed) / duration,
        requests_per_second=len(requests) / duration, generator_cpu_p75=percentile(cpu, 75),
        generator_cpu_max=max(cpu) if cpu else None,
        errors=dict(sorted(errors.items(), key=lambda kv: -kv[1])[:10]),
    )


@dataclass
class Series:
    """Time series in buckets of `step` seconds; x is seconds since the start of the run."""
    step: float
    x: list[float] = field(default_factory=list)
    users: list[float] = field(default_factory=list)
    requests_per_second: list[float] = field(default_factory=list)
    tasks_per_second: list[float] = field(default_factory=list)
    errors_per_second: list[float] = field(default_factory=list)
    accept_p50: list[float | None] = field(default_factory=list)
    accept_p95: list[float | None] = field(default_factory=list)
    accept_p99: list[float | None] = field(default_factory=list)
    completion_p95: list[float | None] = field(default_factory=list)
    generator_cpu: list[float | None] = field(default_factory=list)


def bucket_seconds(duration: float) -> float:
    """About 40 points per chart, never finer than two seconds (finer buckets are mostly noise)."""
    return float(max(2, math.ceil(duration / 40)))


def series(samples: Samples, step: float | None = None) -> Series:
    step = step or bucket_seconds(samples.duration)
    count = max(1, math.ceil(samples.duration / step))
    result = Series(step)
    buckets: list[dict[str, list[Any]]] = [{"req": [], "task": [], "cpu": []} for _ in range(count)]

    def index(t: float) -> int:
        return min(count - 1, max(0, int((t - samples.start) // step)))

    for sample in samples.requests:
        buckets[index(sample.t)]["req"].append(sample)
    for sample in samples.tasks:
        buckets[index(sample.t)]["task"].append(sample)
    for t, cpu, users in samples.cpu:
        buckets[index(t)]["cpu"].append((cpu, users))
    for number, bucket in enumerate(buckets):
        accepted = [s.ms for s in bucket["req"] if is_accept(s) and s.ok]
        completed = [s.ms for s in bucket["task"] if s.ok]
        failures = sum(1 for s in (*bucket["req"], *bucket["task"]) if not s.ok)
        result.x.append(number * step + step / 2)
        result.users.append(max((u for _, u in bucket["cpu"]), default=0))
        result.requests_per_second.append(len(bucket["req"]) / step)
        result.tasks_per_second.append(len(completed) / step)
        result.errors_per_second.append(failures / step)
        result.accept_p50.append(percentile(accepted, 50))
        result.accept_p95.append(percentile(accepted, 95))
        result.accept_p99.append(percentile(accepted, 99))
        result.completion_p95.append(percentile(completed, 95))
        result.generator_cpu.append(max((c for c, _ in bucket["cpu"]), default=None))
    return result
