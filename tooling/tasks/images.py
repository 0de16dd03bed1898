"""Images: build the stack's images, bootstrap the base, list what a stage would run."""

import json as jsonlib

from invoke.context import Context
from invoke.tasks import task

from tooling.tasks.common import ROOT, friendly, load_config


@task(help={"stage": "config stage", "rebuild": "rebuild service images even if present",
            "json": "print the image plan as JSON on stdout"})
@friendly
def build(c: Context, stage: str = "dev", rebuild: bool = False, json: bool = False) -> None:
    """Build every image the stack needs that is missing (base and infra included).

    Example: `inv images.build`, `inv images.build --rebuild --json`."""
    from tooling import images as images_module
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine()
    plan = images_module.ensure_images(cfg, ROOT, rebuild=rebuild)
    if json:
        print(jsonlib.dumps(plan.__dict__, indent=2))
    else:
        print("\n".join(plan.all()))


@task(help={"stage": "config stage"})
@friendly
def base(c: Context, stage: str = "dev") -> None:
    """Make the base image: pull it upstream, or bootstrap it from Debian packages.

    Example: `inv images.base`."""
    from tooling import images as images_module
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine()
    plan = images_module.make_plan(cfg, ROOT, images_module.resolve_source(cfg, ROOT))
    images_module.ensure_base(plan, cfg, ROOT)
    print(plan.base)


@task(help={"stage": "config stage", "json": "print JSON on stdout"})
@friendly
def tags(c: Context, stage: str = "dev", json: bool = False) -> None:
    """Show the image names and tags the current tree maps to (builds nothing).

    Example: `inv images.tags`, `inv images.tags --stage kind --json`."""
    from tooling import images as images_module

    cfg = load_config(stage)
    plan = images_module.offline_plan(cfg, ROOT)
    print(jsonlib.dumps(plan.__dict__, indent=2) if json else "\n".join(plan.all()))


@task(help={"stage": "config stage", "dry_run": "only list what would be removed",
            "json": "print the removed tags as JSON on stdout"})
@friendly
def prune(c: Context, stage: str = "dev", dry_run: bool = False, json: bool = False) -> None:
    """Remove this project's service images of other revisions (each edit of a dirty tree makes new ones).

    Example: `inv images.prune --dry-run`, `inv images.prune`."""
    from tooling import images as images_module
    from tooling.cli import docker as docker_cli

    cfg = load_config(stage)
    docker_cli.check_engine()
    removed = images_module.prune(cfg, ROOT, dry_run=dry_run)
    if json:
        print(jsonlib.dumps({"dry_run": dry_run, "removed": removed}, indent=2))
    else:
        verb = "would remove" if dry_run else "removed"
        print("\n".join(f"{verb} {ref}" for ref in removed) or "nothing to remove: only the current tree's images")
