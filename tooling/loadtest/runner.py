"""`inv loadtest`: locust, headless and in its own process, against the compose stack or the kind
cluster; then a verdict (verdict.json), a report (report.html) and the raw locust CSVs.

locust is never imported here: it monkey-patches the importing process with gevent. It runs as
`python -m locust -f tooling/loadtest/locustfile.py` (tooling/cli/python.py), shaped by the stages of
a profile (profiles.py) and writing raw samples that analysis.py turns into exact figures.
Meanwhile a sampler (sampler.py) records replicas and CPU per component.
"""

import datetime as dt
import html
import json
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tenacity

from tooling import compose, compose_env, progress
from tooling.cli import python as python_cli
from tooling.config import LoadProfile, LoadtestConfig, StackConfig
from tooling.errors import CommandError, StackyardError
from tooling.loadtest import analysis, profiles, report
from tooling.loadtest import sampler as sampler_module
from tooling.loadtest import verdict as verdicts

LOCUSTFILE = Path("tooling") / "loadtest" / "locustfile.py"
DEFAULT_MIX = "chat:6,planner:2,history:1"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
CSV_PREFIX = "locust"
STOP_TIMEOUT_SECONDS = 10
TARGETS = ("compose", "cluster")


class LoadRunError(StackyardError):
    """The run itself could not be made (stack down, locust broken, nothing measured): exit 2."""


@dataclass
class RunSpec:
    target: str
    profile: str
    url: str
    users: int
    spawn_rate: float
    duration: int
    report_dir: Path
    stage: str
    api_key: str = ""
    mix: str = DEFAULT_MIX
    think: str = "0.5,1.5"
    pacing_seconds: float = 0.0  # > 0: open loop, each user starts a run this often (loadtest.arrival)
    poll_seconds: float = 0.1
    task_timeout: float = 60.0
    min_tasks_per_second: float = 0.0


@dataclass
class Outcome:
    spec: RunSpec
    verdict: verdicts.Verdict
    summary: analysis.Summary
    series: analysis.Series
    replicas: list[sampler_module.ReplicaSample]
    note: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def resolve_profile(config: LoadtestConfig, name: str, users: int = 0, spawn_rate: float = 0.0,
                    duration: int = 0) -> LoadProfile:
    """The profile from config, with any command-line overrides (0 = keep the configured value)."""
    if name not in profiles.PROFILES:
        raise StackyardError(f"unknown profile {name!r}", f"use one of: {', '.join(profiles.PROFILES)}")
    base: LoadProfile = getattr(config.profiles, name)
    return LoadProfile(users=users or base.users, spawn_rate=spawn_rate or base.spawn_rate,
                       duration_seconds=duration or base.duration_seconds,
                       min_tasks_per_second=base.min_tasks_per_second)


def parse_duration(text: str) -> int:
    """`90`, `90s`, `5m`, `1h30m` → seconds."""
    text = text.strip().lower()
    if text.isdigit() and int(text) > 0:
        return int(text)
    total, number = 0, ""
    for char in text:
        if char.isdigit():
            number += char
        elif char in "hms" and number:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
            number = ""
        else:
            raise StackyardError(f"--duration {text!r} is not a duration", "e.g. 30, 45s, 5m, 1h30m")
    if number or total <= 0:
        raise StackyardError(f"--duration {text!r} is not a duration", "e.g. 30, 45s, 5m, 1h30m")
    return total


def ensure_local(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise LoadRunError(f"refusing to send load to {host or url!r}: only this machine's loopback is a target",
                           "load the local compose stack (`--target compose`) or the local kind cluster")


def rendered_port(env_file: Path) -> int | None:
    """The gateway port `inv up` rendered into the project's env file (it may have come from --port)."""
    if not env_file.exists():
        return None
    for line in env_file.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == "STACKYARD_GATEWAY_PORT":
            digits = value.strip().strip("'\"")
            return int(digits) if digits.isdigit() else None
    return None


def compose_gateway_url(root: Path, config: StackConfig) -> str:
    """The running compose project's gateway, as a loopback URL on the port `inv up` published."""
    try:
        states = compose.status(root, config)
    except StackyardError as error:
        raise LoadRunError(f"cannot read the compose stack {config.compose.project_name!r}: {error.message}",
                           error.hint or "check `inv status`") from error
    if not any(s.service == "gateway" and s.state == "running" for s in states):
        raise LoadRunError(f"the compose stack {config.compose.project_name!r} has no running gateway",
                           f"start it with `inv up --stage {config.stage}` (same STACKYARD__COMPOSE__PROJECT_NAME), "
                           "then run the load test again")
    port = rendered_port(compose_env.env_file_path(root, config)) or config.gateway.port
    return f"http://127.0.0.1:{port}"


class _NotReady(Exception):
    pass


def _ready_once(url: str) -> None:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            if response.status != 200:
                raise _NotReady(f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        raise _NotReady(f"HTTP {error.code}") from error
    except OSError as error:
        raise _NotReady(str(getattr(error, "reason", error))) from error


def check_ready(url: str, timeout: float = 30.0) -> None:
    """The gateway answers /readyz before any load goes out (retried briefly: a fresh `inv up`)."""
    try:
        tenacity.Retrying(stop=tenacity.stop_after_delay(timeout), wait=tenacity.wait_fixed(1.0),
                          retry=tenacity.retry_if_exception_type(_NotReady), reraise=True)(_ready_once, url)
    except _NotReady as error:
        raise LoadRunError(f"the gateway at {url} is not ready ({error})",
                           "check `inv status` and `inv logs -s gateway`; start the stack with `inv up`") from error


def locust_args(root: Path, spec: RunSpec, csv_prefix: Path) -> list[str]:
    """locust's arguments (after `python -m locust`)."""
    return ["-f", str(root / LOCUSTFILE), "--headless", "--host", spec.url,
            "--csv", str(csv_prefix), "--csv-full-history", "--only-summary", "--loglevel", "WARNING",
            "--exit-code-on-error", "0", "--stop-timeout", str(STOP_TIMEOUT_SECONDS)]


def locust_env(spec: RunSpec, plan: list[profiles.Stage], samples: Path) -> dict[str, str]:
    env = {"STACKYARD_LOAD_STAGES": profiles.to_json(plan), "STACKYARD_LOAD_SAMPLES": str(samples),
           "STACKYARD_LOAD_MIX": spec.mix, "STACKYARD_LOAD_THINK": spec.think,
           "STACKYARD_LOAD_PACING": str(spec.pacing_seconds),
           "STACKYARD_LOAD_POLL_SECONDS": str(spec.poll_seconds),
           "STACKYARD_LOAD_TASK_TIMEOUT": str(spec.task_timeout), "PYTHONUNBUFFERED": "1"}
    if spec.api_key:
        env["STACKYARD_LOAD_API_KEY"] = spec.api_key  # never on argv
    return env


def run_locust(root: Path, spec: RunSpec, plan: list[profiles.Stage]) -> analysis.Samples:
    """locust as its own process; returns the raw samples. LoadRunError when it cannot run or measured nothing."""
    spec.report_dir.mkdir(parents=True, exist_ok=True)
    samples_path = spec.report_dir / "samples.jsonl"
    samples_path.unlink(missing_ok=True)
    run_seconds = plan[-1].end
    args = locust_args(root, spec, spec.report_dir / CSV_PREFIX)
    with progress.step(f"locust: {spec.profile}, up to {profiles.peak_users(plan)} users for {run_seconds:.0f}s "
                       f"against {spec.url}", heartbeat=15):
        try:
            python_cli.locust(args, env=locust_env(spec, plan, samples_path), cwd=root,
                              timeout=run_seconds + STOP_TIMEOUT_SECONDS + 120)
        except CommandError as error:
            raise LoadRunError(f"locust did not run to the end:\n{error}",
                               f"run it by hand to see more: `python -m locust -f {LOCUSTFILE} "
                               f"--headless --host {spec.url}`") from error
    samples = analysis.read(samples_path)
    if not samples.requests:
        raise LoadRunError("locust ran but recorded no request", f"check that {spec.url} answers, and the locust "
                           "CSVs in " + str(spec.report_dir))
    return samples


def host_saturation(before: float, after: float, cores: int) -> str:
    """A warning when this machine's run queue exceeded 1.5 × its cores: the figures include contention."""
    worst = max(before, after)
    if worst > 1.5 * cores:
        return (f"this machine was saturated (load average {worst:.1f} on {cores} cores): latencies include CPU "
                "contention from other work on it, not only the stack under test")
    return ""


def execute(root: Path, spec: RunSpec, config: LoadtestConfig, probe: Any, scaling: bool) -> Outcome:
    """Run the load with the replica sampler alongside; on a cluster, follow the scale-in afterwards."""
    ensure_local(spec.url)
    check_ready(spec.url)
    plan = profiles.stages(spec.profile, spec.users, spec.spawn_rate, spec.duration)
    load_before = os.getloadavg()[0]
    sampler = sampler_module.Sampler(probe, config.sample_interval_seconds).start()
    try:
        samples = run_locust(root, spec, plan)
    finally:
        replica_samples = sampler.stop()
    slo_results = verdicts.load_slos(
        analysis.summarise(samples), config.slo,
        LoadProfile(users=spec.users, spawn_rate=spec.spawn_rate, duration_seconds=spec.duration,
                    min_tasks_per_second=spec.min_tasks_per_second))
    if scaling:
        slo = config.scaling_slo
        component = slo.component

        def back_to_min(sample: sampler_module.ReplicaSample) -> bool:
            minimum = sample.minimum.get(component, 1)
            return sample.replicas.get(component, 0) <= minimum and sample.desired.get(component, minimum) <= minimum

        sampler.follow_until(back_to_min, slo.scale_in_within_seconds + 2 * config.sample_interval_seconds,
                             f"following {component} back to its minimum (up to {slo.scale_in_within_seconds:.0f}s)")
        replica_samples = sampler.samples
        slo_results += verdicts.scaling_slos(replica_samples, slo, samples.start, samples.end)
    summary = analysis.summarise(samples)
    notes = []
    if not samples.note.get("planner", False):
        notes.append(f"planner scenario off ({samples.note.get('planner_reason', 'unknown')}): its weight went "
                     "to the other scenarios")
    busy = host_saturation(load_before, os.getloadavg()[0], os.cpu_count() or 1)
    if busy:
        notes.append(busy)
    if sampler.failures:
        notes.append(f"{len(sampler.failures)} replica samples failed, e.g.: {sampler.failures[0]}")
    verdict = verdicts.decide(slo_results, summary, config.generator_cpu_limit, notes)
    outcome = Outcome(spec, verdict, summary, analysis.series(samples), replica_samples, samples.note)
    write_artefacts(outcome, samples.start)
    return outcome


# ------------------------------------------------------------------------------------------------
# artefacts


def verdict_document(outcome: Outcome) -> dict[str, Any]:
    spec = outcome.spec
    return {
        "passed": outcome.verdict.passed, "exit_code": outcome.verdict.exit_code,
        "target": spec.target, "profile": spec.profile, "stage": spec.stage, "url": spec.url,
        "users": spec.users, "spawn_rate": spec.spawn_rate, "duration_seconds": spec.duration,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "planner_scenario": bool(outcome.note.get("planner", False)),
        **outcome.verdict.as_dict(),
        "summary": {key: value for key, value in asdict(outcome.summary).items()},
        "percentiles": "exact (nearest rank over every sample in samples.jsonl); locust's CSVs round them",
    }


def write_artefacts(outcome: Outcome, start: float) -> None:
    directory = outcome.spec.report_dir
    (directory / "replicas.json").write_text(json.dumps(sampler_module.to_json(outcome.replicas), indent=1))
    (directory / "verdict.json").write_text(json.dumps(verdict_document(outcome), indent=2) + "\n")
    (directory / "report.html").write_text(render_html(outcome, start))
    outcome.files = {"verdict": str(directory / "verdict.json"), "report": str(directory / "report.html"),
                     "csv": str(directory / f"{CSV_PREFIX}_stats.csv"),
                     "csv_history": str(directory / f"{CSV_PREFIX}_stats_history.csv"),
                     "samples": str(directory / "samples.jsonl")}


def replica_lines(samples: list[sampler_module.ReplicaSample], start: float) -> tuple[list[report.Line],
                                                                                    list[report.Line]]:
    components = sorted({name for s in samples for name in s.replicas})
    replicas = [report.Line(name, [(max(0.0, s.t - start), float(s.replicas.get(name, 0))) for s in samples], step=True)
                for name in components]
    desired = sorted({name for s in samples for name in s.desired})
    replicas += [report.Line(f"{name} desired",
                             [(max(0.0, s.t - start), float(s.desired.get(name, 0))) for s in samples],
                             step=True, dashed=True) for name in desired]
    cpu = [report.Line(name, [(max(0.0, s.t - start), s.cpu_cores.get(name)) for s in samples]) for name in components
           if any(name in s.cpu_cores for s in samples)]
    return replicas, cpu


def render_html(outcome: Outcome, start: float) -> str:
    """The run as one self-contained page: verdict, SLO table, charts over a shared time axis, errors."""
    spec, s, series, slo = outcome.spec, outcome.summary, outcome.series, outcome.verdict
    x = series.x

    span = series.x[-1] + series.step / 2 if series.x else 1.0

    def pts(values: list[Any]) -> list[tuple[float, Any]]:
        return list(zip(x, values, strict=True))

    def chart(title: str, unit: str, lines: list[report.Line], thresholds: list[tuple[str, float]] | None = None,
              y_max: float | None = None) -> report.Chart:
        return report.Chart(title, unit, lines, thresholds or [], y_max=y_max, x_max=span)

    doc = verdict_document(outcome)
    thresholds = {r.name: r.threshold for r in slo.slos}
    replicas, cpu = replica_lines(outcome.replicas, start)
    charts = [
        report.svg_chart(chart("Throughput", "per second", [
            report.Line("HTTP requests/s", pts(series.requests_per_second)),
            report.Line("tasks completed/s", pts(series.tasks_per_second))],
            [("min tasks/s", thresholds["throughput"])] if thresholds.get("throughput") else [])),
        report.svg_chart(chart("Latency", "ms", [
            report.Line("accept p50", pts(series.accept_p50)), report.Line("accept p95", pts(series.accept_p95)),
            report.Line("accept p99", pts(series.accept_p99)),
            report.Line("completion p95", pts(series.completion_p95), dashed=True)],
            [("accept p95 SLO", thresholds["accept_p95"]), ("completion p95 SLO", thresholds["completion_p95"])])),
        report.svg_chart(chart("Errors", "per second", [
            report.Line("failed requests + tasks", pts(series.errors_per_second), color="#dc2626")])),
        report.svg_chart(chart("Users", "users", [report.Line("locust users", pts(series.users), step=True)])),
        report.svg_chart(chart("Replicas per component", "replicas", replicas)),
        report.svg_chart(chart("CPU per component", "cores", cpu)) if cpu else "",
        report.svg_chart(chart("Load generator CPU", "share of one core", [
            report.Line("locust", pts(series.generator_cpu), color="#ea580c")],
            [("limit", 0.9)], y_max=1.0)),
    ]
    meta = (f"target <b>{html.escape(spec.target)}</b> ({html.escape(spec.stage)}) at {html.escape(spec.url)} · "
            f"profile <b>{html.escape(spec.profile)}</b>: {spec.users} users, spawn {report.fmt(spec.spawn_rate)}/s, "
            f"{spec.duration}s · {doc['finished_at']} · "
            f"{s.requests} requests, {s.tasks} tasks ({s.tasks_failed} failed) in {s.duration_s:.0f}s")
    errors = report.table(("count", "error"), [(n, e) for e, n in s.errors.items()]) if s.errors else \
        "<p>No errors.</p>"
    artefacts = report.table(("file", "what"), [
        ("verdict.json", "this verdict, machine-readable"), ("samples.jsonl", "raw samples (every request and task)"),
        ("locust_stats.csv, locust_stats_history.csv, locust_failures.csv", "locust's own CSVs (rounded)"),
        ("replicas.json", "replicas and CPU per component over time")])
    return report.page(
        f"stackyard load test — {spec.profile} on {spec.target}", slo.passed, meta,
        [report.warnings_block(slo.warnings), "<h2>Service-level objectives</h2>",
         report.slo_table(doc["slos"]), "<h2>Over time</h2>", report.charts_grid([c for c in charts if c]),
         "<h2>Errors</h2>", errors, "<h2>Artefacts</h2>", artefacts,
         "<p class=\"meta\">Percentiles are exact over every sample; time series use "
         f"{report.fmt(series.step)}-second buckets.</p>"])


def console_summary(outcome: Outcome) -> str:
    lines = [f"{'':2}{'SLO':<16} {'MEASURED':>12} {'THRESHOLD':>14}  DETAIL"]
    for r in outcome.verdict.slos:
        measured = "—" if r.measured is None else (f"{r.measured:.2%}" if r.unit == "ratio"
                                                   else f"{report.fmt(r.measured)} {r.unit}")
        threshold = f"{r.threshold:.2%}" if r.unit == "ratio" else f"{report.fmt(r.threshold)} {r.unit}"
        lines.append(f"{'✓' if r.passed else '✗'} {r.name:<16} {measured:>12} {r.comparison} {threshold:>11}  "
                     f"{r.detail}")
    lines += [f"⚠ {w}" for w in outcome.verdict.warnings]
    return "\n".join(lines)


def default_report_dir(root: Path, profile: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / ".stackyard" / "loadtest" / f"{stamp}-{profile}"


def clean_dir(directory: Path) -> None:
    """A report directory holds one run: stale files from an earlier run would mislead."""
    for name in ("verdict.json", "report.html", "samples.jsonl", "replicas.json"):
        (directory / name).unlink(missing_ok=True)
    for stale in directory.glob(f"{CSV_PREFIX}_*.csv"):
        stale.unlink()
