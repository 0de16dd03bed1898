"""Load: `inv loadtest` (a verdict on latency, errors and scaling), `inv loadtest.scaling`, `inv capacity`.

Exit codes of `inv loadtest`: 0 every SLO held, 1 an SLO was breached, 2 the run could not be made.
"""

from __future__ import annotations

import json as jsonlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling import errors
from tooling.errors import StackyardError
from tooling.tasks.common import ROOT, friendly, load_config, load_secrets, require_extra

if TYPE_CHECKING:  # imported when a task runs, not by `inv --list`
    from tooling.loadtest import sampler as sampler_module


def _float(text: str, flag: str) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise StackyardError(f"{flag} {text!r} is not a number", f"e.g. {flag} 5") from None


@task(default=True, help={
    "target": "compose (the running `inv up` stack) or cluster (the kind cluster from `inv cluster`)",
    "profile": "smoke, step, spike or soak (envs: loadtest.profiles)",
    "users": "peak users (default: the profile's)", "spawn_rate": "users started per second",
    "duration": "whole run, e.g. 30, 45s, 5m (default: the profile's)",
    "report": "directory for verdict.json, report.html and the CSVs (default .stackyard/loadtest/<time>-<profile>)",
    "stage": "config stage (default: dev for compose, kind for cluster)",
    "json": "print verdict.json on stdout (progress stays on stderr)",
})
@friendly(could_not_start=errors.EXIT_COULD_NOT_START)
def run(c: Context, target: str = "compose", profile: str = "smoke", users: int = 0, spawn_rate: str = "",
        duration: str = "", report: str = "", stage: str = "", json: bool = False) -> None:
    """Drive the stack with locust and judge it: verdict.json, report.html, CSVs; exit 0 pass, 1 breach, 2 no run.

    Example: `inv loadtest`, `inv loadtest --profile step --duration 2m --json`."""
    require_extra("load", "loadtest")
    from tooling import cluster as cluster_module
    from tooling.loadtest import runner
    from tooling.loadtest import sampler as sampler_module
    from tooling.loadtest import verdict as verdicts

    if target not in runner.TARGETS:
        raise StackyardError(f"unknown target {target!r}", "use --target compose or --target cluster")
    cfg = load_config(stage or ("kind" if target == "cluster" else "dev"))
    secrets = load_secrets(cfg)
    chosen = runner.resolve_profile(cfg.loadtest, profile, users, _float(spawn_rate, "--spawn-rate"),
                                             runner.parse_duration(duration) if duration else 0)
    probe: Callable[[], sampler_module.ReplicaSample]
    if target == "cluster":
        tools = cluster_module.tools_for_existing(ROOT)
        handle = cluster_module.cluster_object(ROOT, tools)
        if not handle.exists():
            raise runner.LoadRunError(f"no kind cluster {cluster_module.CLUSTER_NAME!r} is running",
                                               "create it with `inv cluster`, then run the load test again")
        probe = sampler_module.cluster_probe(Path(handle.kubeconfig_path), cluster_module.NAMESPACE)
        url = cluster_module.GATEWAY_URL
    else:
        probe = sampler_module.compose_probe(ROOT, cfg)
        url = runner.compose_gateway_url(ROOT, cfg)
    directory = Path(report).resolve() if report else runner.default_report_dir(ROOT, profile)
    directory.mkdir(parents=True, exist_ok=True)
    runner.clean_dir(directory)
    spec = runner.RunSpec(
        target=target, profile=profile, url=url, users=chosen.users, spawn_rate=chosen.spawn_rate,
        duration=chosen.duration_seconds, report_dir=directory, stage=cfg.stage,
        api_key=secrets.api_keys[0] if cfg.gateway.require_api_key and secrets.api_keys else "",
        poll_seconds=cfg.loadtest.poll_interval_seconds, task_timeout=cfg.loadtest.task_timeout_seconds,
        pacing_seconds=cfg.loadtest.arrival.user_interval_seconds if cfg.loadtest.arrival.open_loop else 0.0,
        min_tasks_per_second=chosen.min_tasks_per_second)
    outcome = runner.execute(ROOT, spec, cfg.loadtest, probe, scaling=target == "cluster")
    print(runner.console_summary(outcome), file=sys.stderr)
    word = "PASS" if outcome.verdict.passed else "FAIL: an SLO was breached"
    print(f"{'✓' if outcome.verdict.passed else '✗'} {word} — report {outcome.files['report']}", file=sys.stderr)
    if json:
        print(jsonlib.dumps(runner.verdict_document(outcome), indent=2))
    if not outcome.verdict.passed:
        raise Exit(code=verdicts.EXIT_BREACH)


@task(help={
    "scale": "SERVICE=N1,N2,… (repeatable; default worker=1,2,4): each count is measured in turn",
    "duration": "measured seconds per step (default loadtest.scaling_run.duration_seconds)",
    "users": "closed-loop users (default loadtest.scaling_run.users)",
    "stage": "config stage of the running compose stack",
    "report": "directory for scaling.json and scaling.html (default .stackyard/loadtest/scaling-<time>)",
    "json": "print scaling.json on stdout",
}, iterable=["scale"])
@friendly(could_not_start=errors.EXIT_COULD_NOT_START)
def scaling(c: Context, scale: list[str] | None = None, duration: int = 0, users: int = 0, stage: str = "dev",
            report: str = "", json: bool = False) -> None:
    """Completed tasks/s of the compose stack at --scale worker=1,2,4 (I/O-bound agents) and the efficiency.

    Example: `inv loadtest.scaling`, `inv loadtest.scaling --scale worker=1,2 --duration 20`."""
    require_extra("load", "loadtest.scaling")
    from tooling import images
    from tooling.loadtest import scaling as scaling_module

    cfg = load_config(stage)
    secrets = load_secrets(cfg)
    series = scaling_module.parse_series(scale or ["worker=1,2,4"])
    plan = images.ensure_images(cfg, ROOT)
    directory = Path(report).resolve() if report else scaling_module.default_dir(ROOT)
    result = scaling_module.measure(ROOT, cfg, secrets, plan, series, directory,
                                    users=users or cfg.loadtest.scaling_run.users,
                                    duration=duration or cfg.loadtest.scaling_run.duration_seconds)
    print(scaling_module.table(result), file=sys.stderr)
    print(f"  report {directory / 'scaling.html'}; `inv capacity --target-rps X` plans from it", file=sys.stderr)
    if json:
        print(jsonlib.dumps(result, indent=2))


@task(help={
    "target_rps": "the load to plan for, in tasks per second",
    "scaling": "a scaling.json from `inv loadtest.scaling` (default: the latest)",
    "write_patch": "also write kustomize patches for the staging and production overlays into this directory",
    "json": "print the plan as JSON on stdout",
})
@friendly
def capacity(c: Context, target_rps: str = "", scaling: str = "", write_patch: str = "", json: bool = False) -> None:
    """Turn measured per-replica capacity into requests, HPA targets and min/max for staging and production.

    Example: `inv capacity --target-rps 50`, `inv capacity --target-rps 50 --write-patch build/`."""
    from tooling.loadtest import capacity as capacity_module
    from tooling.loadtest import scaling as scaling_module

    rps = _float(target_rps, "--target-rps")
    if rps <= 0:
        raise StackyardError("--target-rps is required and must be > 0", "e.g. inv capacity --target-rps 50")
    source = Path(scaling) if scaling else scaling_module.latest_path(ROOT)
    measured = capacity_module.load_measurement(source)
    plans = [capacity_module.plan(measured, rps, load_config(stage), stage) for stage in ("staging", "production")]
    print(capacity_module.table(plans, measured), file=sys.stderr)
    if write_patch:
        written = capacity_module.write_patches(plans, Path(write_patch))
        print("  wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
        print("  add one to an overlay's kustomization.yaml under `patches:` to apply it", file=sys.stderr)
    if json:
        print(jsonlib.dumps([p.as_dict() for p in plans], indent=2))
