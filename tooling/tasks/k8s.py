"""Kubernetes manifests: render an overlay from config, validate every overlay offline."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling.tasks.common import ROOT, friendly, load_config, require_extra

if TYPE_CHECKING:  # imported when a task runs, not by `inv --list`
    from tooling import images as images_module
    from tooling.config import StackConfig


def _plan(cfg: StackConfig, source: str, tag: str) -> images_module.ImagePlan:
    # Offline: no Docker needed. `auto` renders the upstream infra images; `inv cluster` passes the
    # plan of the images it actually built or found instead.
    from tooling import images as images_module

    chosen = source or (cfg.images.source if cfg.images.source != "auto" else "upstream")
    return images_module.make_plan(cfg, ROOT, chosen, tag=tag or None)


@task(help={"env": "overlay / config stage: kind, staging or production",
            "out": "write <env>.yaml (and addons.yaml for kind) into this directory instead of stdout",
            "source": "infra image source: upstream or bootstrap (default: images.source, auto → upstream)",
            "tag": "service image tag (default: the tree's git revision, as `inv images.build` tags them)"})
@friendly
def render(c: Context, env: str = "kind", out: str = "", source: str = "", tag: str = "") -> None:
    """Render an overlay with kustomize, config values and image tags filled in from envs/.

    Example: `inv k8s.render --env staging`, `inv k8s.render --env kind --out build/`."""
    require_extra("k8s", "k8s.render")
    from tooling import k8s as k8s_module

    cfg = load_config(env)
    orchestration = ROOT / k8s_module.ORCHESTRATION
    rendering = k8s_module.render(orchestration, env, cfg, _plan(cfg, source, tag))
    if not out:
        print(rendering.text, end="")
        return
    written = [k8s_module.write(rendering, Path(out), env)]
    if env == "kind":
        written.append(k8s_module.write(k8s_module.render_addons(orchestration), Path(out), "addons"))
    print("\n".join(str(p) for p in written))


@task(help={"json": "print the report as JSON on stdout", "no_checkov": "skip the checkov scan (faster)",
            "tag": "service image tag to render with (default: the tree's git revision)"})
@friendly
def validate(c: Context, json: bool = False, no_checkov: bool = False, tag: str = "") -> None:
    """Validate every overlay offline: strict schemas, semantic checks, config parity, checkov.

    Parity: every setting in tooling/config/mapping.py reaches each service that reads it, with
    the config's value, on every target — kind, staging, production and compose (dev, ci).
    Example: `inv k8s.validate`, `inv k8s.validate --no-checkov --json`."""
    require_extra("k8s", "k8s.validate")
    from tooling import k8s as k8s_module
    from tooling.compose_env import COMPOSE_FILE
    from tooling.config import DEV_STAGES

    configs = {overlay: load_config(overlay) for overlay in k8s_module.OVERLAYS}
    plans = {overlay: _plan(cfg, "", tag) for overlay, cfg in configs.items()}
    report = k8s_module.validate(ROOT / k8s_module.ORCHESTRATION, configs, plans, checkov=not no_checkov,
                                 compose={stage: load_config(stage) for stage in DEV_STAGES},
                                 compose_file=ROOT / COMPOSE_FILE)
    if json:
        print(jsonlib.dumps(report.as_dict(), indent=2))
    else:
        print(k8s_module.summary(report), file=sys.stderr)
    if not report.ok:
        raise Exit(code=1)
