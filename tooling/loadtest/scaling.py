"""`inv loadtest.scaling`: completed tasks per second of the compose stack at 1, 2, 4 … replicas.

The agents are made I/O-bound for the measurement (loadtest.scaling_run: few model calls in flight
per worker, a slow model), so each worker's capacity is bounded by waiting on the model, not by
this machine's CPU; closed-loop users (no think time) keep every worker busy. Each step is
measured after a warm-up; CPU per component comes from `docker stats`. The running stack is put
back as it was (settings and replica counts) at the end.
"""

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tooling import compose, progress
from tooling import config as config_module
from tooling.config import Secrets, StackConfig
from tooling.errors import StackyardError
from tooling.images import ImagePlan
from tooling.loadtest import analysis, profiles, report, runner
from tooling.loadtest import sampler as sampler_module

SCALABLE = ("worker", "model", "memory", "orchestrator", "gateway")


def parse_series(values: list[str]) -> list[tuple[str, list[int]]]:
    series = []
    for value in values:
        service, sep, counts = value.partition("=")
        try:
            numbers = [int(n) for n in counts.split(",") if n.strip()]
        except ValueError:
            numbers = []
        if not sep or not numbers or min(numbers) < 1:
            raise StackyardError(f"--scale {value!r} is not SERVICE=N1,N2,…", "e.g. --scale worker=1,2,4")
        if service not in SCALABLE:
            raise StackyardError(f"{service!r} cannot be scaled under compose here",
                                 f"choose one of: {', '.join(SCALABLE)}")
        series.append((service, numbers))
    return series


def default_dir(root: Path) -> Path:
    return root / ".stackyard" / "loadtest" / f"scaling-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def latest_path(root: Path) -> Path:
    return root / ".stackyard" / "loadtest" / "scaling-latest.json"


def efficiency(levels: list[dict[str, Any]]) -> None:
    """Add speedup (vs the first step) and efficiency (speedup / replica ratio) to each level, in place."""
    if not levels:
        return
    base_tps, base_n = levels[0]["tasks_per_second"], levels[0]["replicas"]
    for level in levels:
        speedup = level["tasks_per_second"] / base_tps if base_tps else 0.0
        level["speedup"] = round(speedup, 3)
        level["efficiency"] = round(speedup / (level["replicas"] / base_n), 3)


def level_figures(samples: analysis.Samples, replica_samples: list[sampler_module.ReplicaSample],
                  warmup: float, duration: float) -> dict[str, Any]:
    summary = analysis.summarise(samples, (warmup, warmup + duration))
    window = [s for s in replica_samples if samples.start + warmup <= s.t <= samples.start + warmup + duration]
    services = sorted({name for s in window for name in s.cpu_cores})
    cpu = {name: round(sum(s.cpu_cores.get(name, 0.0) for s in window) / len(window), 3) for name in services} \
        if window else {}
    return {"tasks_per_second": round(summary.tasks_per_second, 3), "tasks": summary.tasks,
            "task_error_rate": round(summary.task_error_rate, 4), "accept_p95_ms": summary.accept_p95_ms,
            "completion_p50_ms": summary.completion_p50_ms, "completion_p95_ms": summary.completion_p95_ms,
            "cpu_cores": cpu, "generator_cpu_p75": summary.generator_cpu_p75}


def measure(root: Path, config: StackConfig, secrets: Secrets, plan: ImagePlan, series: list[tuple[str, list[int]]],
            directory: Path, *, users: int, duration: int) -> dict[str, Any]:
    run = config.loadtest.scaling_run
    url = runner.compose_gateway_url(root, config)
    port = int(url.rsplit(":", 1)[1])
    before = {s: sum(1 for st in compose.status(root, config) if st.service == s and st.state == "running")
              for s in SCALABLE}
    overrides: dict[str, Any] = {"gateway.port": port, "worker.concurrency": run.worker_concurrency,
                                 "model.first_token_ms": run.model_first_token_ms}
    measuring = config_module.load(config.stage, config_module.envs_dir(root), overrides=overrides)
    original = config_module.load(config.stage, config_module.envs_dir(root), overrides={"gateway.port": port})
    directory.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "stage": config.stage, "url": url, "users": users, "duration_seconds": duration,
        "warmup_seconds": run.warmup_seconds,
        "settings": {"worker.concurrency": run.worker_concurrency, "model.first_token_ms": run.model_first_token_ms,
                     "model.tokens_per_second": measuring.model.tokens_per_second},
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "series": []}
    try:
        for service, counts in series:
            levels = []
            for count in counts:
                scale = {s: max(1, n) for s, n in before.items()}
                scale[service] = count
                progress.say(f"▸ {service} × {count} (worker.concurrency {run.worker_concurrency}, model first token "
                             f"{run.model_first_token_ms:.0f} ms)")
                compose.up(root, measuring, secrets, plan, scale=scale)
                levels.append({"service": service, "replicas": count,
                               **one_level(root, measuring, url, directory / f"{service}-{count}", users, duration)})
                progress.say(f"  {levels[-1]['tasks_per_second']:.2f} completed tasks/s")
            efficiency(levels)
            result["series"].append({"service": service, "levels": levels})
    finally:
        with progress.step("putting the stack back as it was"):
            compose.up(root, original, secrets, plan, scale={s: max(1, n) for s, n in before.items()})
    (directory / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    (directory / "scaling.html").write_text(render_html(result))
    latest = latest_path(root)
    latest.parent.mkdir(parents=True, exist_ok=True)
    latest.write_text(json.dumps(result, indent=2) + "\n")
    return result


def one_level(root: Path, config: StackConfig, url: str, directory: Path, users: int,
              duration: int) -> dict[str, Any]:
    run = config.loadtest.scaling_run
    total = run.warmup_seconds + duration
    spec = runner.RunSpec(target="compose", profile="soak", url=url, users=users, spawn_rate=float(users),
                                   duration=total, report_dir=directory, stage=config.stage, mix="chat:1",
                                   think="0,0", poll_seconds=run.poll_interval_seconds,
                                   task_timeout=config.loadtest.task_timeout_seconds)
    runner.check_ready(url)
    sampler = sampler_module.Sampler(sampler_module.compose_probe(root, config),
                                     config.loadtest.sample_interval_seconds).start()
    try:
        samples = runner.run_locust(root, spec, profiles.stages("soak", users, float(users), total))
    finally:
        replica_samples = sampler.stop()
    return level_figures(samples, replica_samples, run.warmup_seconds, duration)


def table(result: dict[str, Any]) -> str:
    settings = ", ".join(f"{k} {v}" for k, v in result["settings"].items())
    lines = [f"scaling on compose ({settings}; {result['users']} closed-loop users, "
             f"{result['duration_seconds']}s measured per step):",
             f"  {'SERVICE':<10} {'REPLICAS':>8} {'TASKS/S':>9} {'SPEEDUP':>8} {'EFFICIENCY':>10} "
             f"{'COMPLETION P95':>15} {'ERRORS':>7}"]
    for series in result["series"]:
        for level in series["levels"]:
            p95 = level["completion_p95_ms"]
            lines.append(f"  {series['service']:<10} {level['replicas']:>8} {level['tasks_per_second']:>9.2f} "
                         f"{level['speedup']:>7.2f}× {level['efficiency']:>10.0%} "
                         f"{'—' if p95 is None else f'{p95:.0f} ms':>15} {level['task_error_rate']:>7.1%}")
    return "\n".join(lines)


def render_html(result: dict[str, Any]) -> str:
    sections = []
    for series in result["series"]:
        levels = series["levels"]
        base = levels[0]["tasks_per_second"] / levels[0]["replicas"] if levels else 0.0
        sections.append(report.svg_bars(
            f"{series['service']}: completed tasks per second", "tasks/s",
            [(f"{lv['replicas']} × {series['service']}", lv["tasks_per_second"]) for lv in levels],
            ideal=[base * lv["replicas"] for lv in levels]))
        sections.append(report.table(
            ("replicas", "tasks/s", "speedup", "efficiency", "completion p50", "completion p95", "task errors",
             "CPU (cores) per service"),
            [(lv["replicas"], f"{lv['tasks_per_second']:.2f}", f"{lv['speedup']:.2f}×", f"{lv['efficiency']:.0%}",
              _ms(lv["completion_p50_ms"]), _ms(lv["completion_p95_ms"]), f"{lv['task_error_rate']:.1%}",
              ", ".join(f"{k} {v:.2f}" for k, v in lv["cpu_cores"].items())) for lv in levels]))
    settings = ", ".join(f"<code>{k}={v}</code>" for k, v in result["settings"].items())
    meta = (f"{result['measured_at']} · {result['url']} · {settings} · {result['users']} closed-loop users · "
            f"{result['duration_seconds']}s measured per step after {result['warmup_seconds']}s warm-up")
    return report.page("stackyard scaling on compose", None, meta, [report.charts_grid(sections[::2]),
                                                                     *sections[1::2]])


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"
