"""The watch loop: wait for a save, apply it to the running stack, report it on one line.

A reload never stops the loop: a file that does not compile, a config that does not validate, a
build that fails or a service that does not start is printed with its error (and the service's
traceback) and the stack keeps what it had; the next good save recovers. The drain on SIGTERM
and the redelivery of unacknowledged steps keep in-flight tasks across restarts.
"""

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tooling import compose, compose_env, images
from tooling.cli import compose as compose_cli
from tooling.config import Secrets, StackConfig, envs_dir, load
from tooling.errors import StackyardError
from tooling.images import ImagePlan
from tooling.watch import changes
from tooling.watch.impact import Impact, classify

POLL_SECONDS = 0.25
SERVICE_IMAGE_INPUTS = ("services/pyproject.toml", images.SERVICE_DOCKERFILE)
LOG_LINES = 200


@dataclass
class Session:
    """What the running stack was started with; a reload changes config and plan in place."""

    root: Path
    config: StackConfig
    secrets: Secrets
    plan: ImagePlan
    scale: dict[str, int] = field(default_factory=dict)
    infra: tuple[str, ...] = images.CORE_INFRA
    profiles: list[str] = field(default_factory=list)
    overrides: dict[str, object] = field(default_factory=dict)

    @property
    def stack(self) -> compose_cli.Project:
        env_file = compose_env.env_file_path(self.root, self.config)
        return compose.project(self.root, self.config, env_file, self.profiles, live_source=True)


@dataclass
class Reload:
    files: list[str]
    services: list[str]
    ok: bool
    seconds: float
    error: str = ""
    detail: str = ""

    def line(self) -> str:
        files = ", ".join(self.files[:3]) + (f" (+{len(self.files) - 3})" if len(self.files) > 3 else "")
        if self.ok:
            what = f"{', '.join(self.services)} restarted" if self.services else "nothing to restart"
            return f"↻ {files} → {what}, healthy {self.seconds:.1f}s after save"
        text = f"✗ {files} → {self.error} ({self.seconds:.1f}s after save)"
        return text + ("\n" + _indent(self.detail) if self.detail else "")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def syntax_errors(root: Path, files: list[str]) -> str:
    """The compiler's message for each saved Python file that does not compile ('' when all do)."""
    found = []
    for relative in files:
        path = root / relative
        if not path.exists():
            continue
        try:
            compile(path.read_bytes(), relative, "exec")
        except (SyntaxError, ValueError) as error:
            found.append("".join(traceback.format_exception_only(type(error), error)).rstrip())
    return "\n".join(found)


def last_traceback(log: str) -> str:
    """From the last traceback in a log to its end (a crash loop repeats the same one)."""
    start = log.rfind("Traceback (most recent call last)")
    if start < 0:
        return log
    return log[log.rfind("\n", 0, start) + 1:]


def _crash_log(session: Session, service: str, since: float) -> str:
    """The service's log since the save; a moment after the crash, Docker may not have it all yet."""
    log = ""
    for _ in range(8):
        log = compose_cli.recent_logs(session.stack, service, since=_since(since), tail=LOG_LINES)
        if "Traceback" in log or "Error" in log:
            break
        time.sleep(POLL_SECONDS)
    return log


def _since(moment: float) -> str:
    return datetime.fromtimestamp(moment - 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_healthy(session: Session, services: list[str], since: float, timeout: float) -> tuple[bool, str, str]:
    """(healthy, what failed, its log since `since`): until every container of `services` is
    running and healthy, one of them exits or turns unhealthy, or the timeout passes."""
    deadline = time.monotonic() + timeout
    # A process that dies at import is back within a second under `restart: unless-stopped`, so a
    # poll may never see it exited: its restart count going up is what tells. One `inspect_all`
    # per poll gives both the states and the counts.
    restarts = _restart_counts(compose_cli.inspect_all(session.stack))
    while True:
        found = compose_cli.inspect_all(session.stack)
        current = [s for s in map(compose_cli.container_state, found) if s.service in services]
        counts = _restart_counts(found)
        broken = [s for s in current if s.state in ("exited", "dead", "restarting") or s.health == "unhealthy"
                  or counts.get(s.container, 0) > restarts.get(s.container, 0)]
        if broken:
            crashes = counts.get(broken[0].container, 0) - restarts.get(broken[0].container, 0)
            name, state = broken[0].service, f"{broken[0].state}/{broken[0].health}, {crashes} crash(es)"
            logs = _crash_log(session, name, since)
            # Stopped, not left in Docker's crash loop: its growing back-off would delay the
            # restart of the next good save by tens of seconds.
            compose_cli.stop(session.stack, [name])
            return False, f"{name} did not start ({state}) and is stopped until the next save; its log:", \
                last_traceback(logs)
        if current and {s.service for s in current} >= set(services) and all(
                s.state == "running" and s.health in ("healthy", "none") for s in current):
            return True, "", ""
        if time.monotonic() > deadline:
            return False, f"not healthy after {timeout:.0f}s: {', '.join(services)}", ""
        time.sleep(POLL_SECONDS)


def _restart_counts(inspected: list[dict[str, Any]]) -> dict[str, int]:
    """container name → how often its restart policy has restarted it."""
    return {str(found.get("Name", "")).lstrip("/"): int(found.get("RestartCount") or 0) for found in inspected}


def _rendered(session: Session) -> dict[str, str]:
    """Each rendered env file's text: "project" (compose's --env-file) and one per component."""
    project_file = compose_env.env_file_path(session.root, session.config)
    files = {p.stem: p for p in compose_env.component_dir(session.root, session.config).glob("*.env")}
    return {name: path.read_text() for name, path in {**files, "project": project_file}.items() if path.exists()}


def _recreate(session: Session) -> list[str]:
    """Write the env files of the current config and plan; `compose up` recreates what they change."""
    before = _rendered(session)
    compose_env.write(session.root, session.config, session.secrets, session.plan)
    after = _rendered(session)
    compose_cli.up(session.stack, scales=compose.wanted_replicas(session.config, session.scale))
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    return list(compose.SERVICES) if "project" in changed else sorted(changed & set(compose.SERVICES))


def _apply(session: Session, impact: Impact) -> list[str]:
    """Carry out a classified change; the services it touched."""
    touched: set[str] = set()
    if impact.reconfigure:
        session.config = load(session.config.stage, envs_dir(session.root), overrides=session.overrides)
        touched |= set(_recreate(session))
    if impact.rebuild:
        old = session.plan
        # The service images' tag names the whole tree; only their own inputs are worth rebuilding
        # them for (an edge or Postgres Dockerfile rebuilds that image alone).
        services_too = any(path in SERVICE_IMAGE_INPUTS for path in impact.rebuild)
        session.plan = images.ensure_images(session.config, session.root, infra=session.infra, services=services_too)
        if not services_too:
            session.plan = replace(session.plan, tag=old.tag, services=old.services)
        rebuilt = {name for name, ref in session.plan.services.items() if old.services.get(name) != ref}
        rebuilt |= {name for name, ref in session.plan.infra.items() if old.infra.get(name) != ref}
        touched |= set(_recreate(session)) | rebuilt
    restart = sorted(impact.restart - touched)
    if restart:
        compose_cli.restart(session.stack, restart)
    return sorted(touched | set(restart), key=lambda s: compose.SERVICES.index(s) if s in compose.SERVICES else 99)


def reload(session: Session, saved_at: float, files: list[str]) -> Reload | None:
    """Apply one batch of saved files; None when none of them affects the stack."""
    impact = classify(session.root, files)
    relevant = [f for f in files if f not in impact.ignored]
    if not relevant:
        return None
    broken = syntax_errors(session.root, impact.python)
    if broken:
        return Reload(relevant, [], False, time.time() - saved_at,
                      "does not compile: nothing restarted, the services run the previous code", broken)
    try:
        services = _apply(session, impact)
    except StackyardError as failure:
        return Reload(relevant, [], False, time.time() - saved_at, "could not apply it", str(failure))
    if not services:
        return Reload(relevant, [], True, time.time() - saved_at)
    healthy, error, detail = wait_healthy(session, services, saved_at, session.config.compose.wait_timeout_seconds)
    return Reload(relevant, services, healthy, time.time() - saved_at, error, detail)


def run(session: Session, *, as_json: bool = False, poller: changes.Poller | None = None,
        emit: Callable[[str], None] = lambda text: print(text, flush=True)) -> None:
    """Watch until Ctrl-C; the stack keeps running afterwards."""
    poller = poller or changes.Poller(session.root)
    emit(json.dumps({"event": "watching", "paths": list(changes.WATCHED)}) if as_json else
         f"👀 watching {', '.join(p + '/' for p in changes.WATCHED)} — save a file to reload it; "
         "Ctrl-C stops watching (the stack keeps running)")
    try:
        while True:
            saved_at, files = poller.wait()
            result = reload(session, saved_at, files)
            if result is not None:
                emit(json.dumps({"event": "reload", **result.__dict__}) if as_json else result.line())
    except KeyboardInterrupt:
        emit(json.dumps({"event": "stopped"}) if as_json else
             "stopped watching; the stack is still running (`inv down` stops it, `inv up` runs the images' code)")
