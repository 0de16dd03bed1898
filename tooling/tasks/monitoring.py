"""Monitoring as code: check every config, rule and dashboard; regenerate the SLO rules."""

import json as json_module
from dataclasses import asdict
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling.tasks.common import ROOT, friendly, load_config


@task(default=True, help={"json": "print the results as JSON on stdout"})
@friendly
def check(c: Context, json: bool = False) -> None:
    """promtool check config/rules and test rules, amtool check-config, PromQL metric names.

    Example: `inv monitoring`, `inv monitoring.check --json`."""
    from tooling import monitoring
    from tooling.config import STAGES

    configs = {stage: load_config(stage) for stage in STAGES}
    prometheus_image, alertmanager_image = monitoring.ensure_check_images(configs["dev"], ROOT)
    results = monitoring.run_checks(ROOT, configs, prometheus_image, alertmanager_image)
    if json:
        print(json_module.dumps([asdict(r) for r in results], indent=2))
    else:
        print(monitoring.report(results))
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise Exit(f"✗ {len(failed)} monitoring check(s) failed: {', '.join(failed)}\n"
                   "  → fix what is printed above (docs/monitoring.md explains each check)", code=1)


@task(help={"check": "only report whether the committed file is up to date (exit 1 if not)"})
@friendly
def generate(c: Context, check: bool = False) -> None:
    """Regenerate deploy/monitoring/rules/slo.rules.yml from the SLOs in tooling/monitoring/slo.py.

    Example: `inv monitoring.generate`, `inv monitoring.generate --check` (CI)."""
    from tooling import monitoring

    path = Path(ROOT / monitoring.SLO_RULES_FILE)
    wanted = monitoring.slo_rules_text()
    if path.exists() and path.read_text() == wanted:
        print(f"{monitoring.SLO_RULES_FILE} is up to date")
        return
    if check:
        raise Exit(f"✗ {monitoring.SLO_RULES_FILE} is stale\n  → run `inv monitoring.generate` and commit it", code=1)
    path.write_text(wanted)
    print(f"wrote {monitoring.SLO_RULES_FILE}")
