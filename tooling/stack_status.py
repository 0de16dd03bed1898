"""`inv status`: per service its state, health, replicas, image tag, uptime, restarts, published
URLs and the last error line it logged.

One `docker compose ps` and one `docker inspect` of every container (tooling/cli/compose.py
`inspect_all`) give the state; `docker logs --tail` of each container gives its last error line.
Everything after those commands is plain functions of their output (`summarise`, `table`,
`as_json`), tested on recorded `docker inspect` JSON (tests/unit/test_stack_status.py).

replicas is running/wanted, wanted being the containers compose made for the service (`--scale`
included); a core service with no container at all is listed as `missing`.
"""

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tooling import compose, compose_env, log_view, progress
from tooling.cli import compose as compose_cli
from tooling.config import StackConfig
from tooling.errors import StackyardError

TAIL_LINES = 200
ERROR_LEVELS = frozenset({"warning", "error", "critical", "fatal"})
# Outside our JSON: Python's tracebacks, Postgres/uvicorn/Redis levels, nginx's [warn]/[error]/….
_ERROR_TEXT = re.compile(r"Traceback|Error|\b(?:ERROR|FATAL|PANIC|CRITICAL|WARNING|WARN)\b"
                         r"|\[(?:warn|error|crit|alert|emerg)\]")
_SCHEMES = {"5432": "postgres", "6379": "redis"}  # published container port → URL scheme (else http)
_NEVER = "0001-01-01T00:00:00Z"  # docker's StartedAt of a container that never started
CLEAR_SCREEN, HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[2J", "\x1b[H", "\x1b[K", "\x1b[J"


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    state: str  # `running`, or a mix: `running 2, exited 1`; `missing` when no container exists
    health: str
    running: int
    wanted: int
    image: str
    tag: str
    started_at: str | None  # the most recent start among its running containers (RFC 3339, UTC)
    uptime_seconds: int | None
    restarts: int
    urls: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    last_error: str | None = None
    last_error_at: str | None = None
    containers: list[str] = field(default_factory=list)

    @property
    def replicas(self) -> str:
        return f"{self.running}/{self.wanted}"


# ---------------------------------------------------------------------------------------------
# parsing docker's output


def parse_time(text: object) -> datetime | None:
    """docker's RFC 3339 time with nanoseconds (`2026-12-08T01:30:24.824078691Z`) as a UTC datetime."""
    value = str(text or "")
    if not value or value == _NEVER:
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", value)
    if not match:
        return None
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(f"{base}.{(fraction or '0')[:6].ljust(6, '0')}"
                                    f"{'+00:00' if zone in (None, 'Z') else zone}")
    return None if parsed.year < 2000 else parsed.astimezone(UTC)


def humanise(seconds: float | None) -> str:
    """`45s`, `3m 12s`, `2h 05m`, `3d 4h`; `-` for none."""
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def image_tag(ref: str) -> str:
    """`stackyard/gateway:abc` → `abc`; `registry:5000/redis` → `latest`; a digest → its first 12."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return digest.removeprefix("sha256:")[:12] if digest else "latest"


def urls(inspected: dict[str, Any]) -> list[str]:
    """The published ports as URLs a browser or client takes: http://localhost:8080, …"""
    found = set()
    for inner, bindings in ((inspected.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, protocol = str(inner).partition("/")
        if protocol not in ("", "tcp"):
            continue
        for binding in bindings or []:
            host = binding.get("HostIp") or ""
            host = "localhost" if host in ("", "0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
            found.add(f"{_SCHEMES.get(port, 'http')}://{host}:{binding.get('HostPort')}")
    return sorted(found)


def split_timestamp(line: str) -> tuple[datetime | None, str]:
    """`docker logs --timestamps`' `TIME text` as (time, text)."""
    stamp, sep, text = line.partition(" ")
    when = parse_time(stamp) if sep else None
    return (when, text) if when else (None, line)


def is_error(text: str) -> bool:
    """A line at level warning or worse, or naming a Traceback or an Error."""
    entry = log_view.parse_json(text)
    if entry is not None:
        if str(entry.get("level", "")).lower() in ERROR_LEVELS:
            return True
        text = f"{entry.get('msg', '')} {entry.get('error') or ''}"
    return bool(_ERROR_TEXT.search(text))


def last_error(lines: Sequence[str]) -> tuple[datetime | None, str] | None:
    """The last error line of a container's tail (stdout and stderr put back in time order), as
    (when, the line on one line: a JSON entry's level, message, fields and exception)."""
    stamped = [(i, *split_timestamp(line)) for i, line in enumerate(lines)]
    stamped.sort(key=lambda item: (item[1] or datetime.min.replace(tzinfo=UTC), item[0]))
    for _, when, text in reversed(stamped):
        if text.strip() and is_error(text):
            return when, log_view.one_line(text.strip())
    return None


# ---------------------------------------------------------------------------------------------
# per service


def _mix(values: Sequence[str]) -> str:
    counts = Counter(values).most_common()
    return counts[0][0] if len(counts) == 1 else ", ".join(f"{value} {n}" for value, n in counts)


def _service(name: str, found: list[dict[str, Any]], tails: dict[str, list[str]], now: datetime) -> ServiceStatus:
    states = [compose_cli.container_state(c) for c in found]
    running = [c for c, s in zip(found, states, strict=True) if s.state == "running"]
    starts = [t for c in running if (t := parse_time((c.get("State") or {}).get("StartedAt")))]
    started = max(starts) if starts else None
    images = sorted({str((c.get("Config") or {}).get("Image") or "") for c in found} - {""})
    errors = []
    for state in states:
        picked = last_error(tails.get(state.container, []))
        if picked:
            label = f"[{state.container.rsplit('-', 1)[-1]}] " if len(found) > 1 else ""
            errors.append((picked[0] or datetime.min.replace(tzinfo=UTC), label + picked[1]))
    when, text = max(errors) if errors else (None, None)
    return ServiceStatus(
        service=name, state=_mix([s.state for s in states]), health=_mix([s.health for s in states]),
        running=len(running), wanted=len(found), image=", ".join(images),
        tag=", ".join(sorted({image_tag(i) for i in images})),
        started_at=started.isoformat().replace("+00:00", "Z") if started else None,
        uptime_seconds=int((now - started).total_seconds()) if started else None,
        restarts=sum(int(c.get("RestartCount") or 0) for c in found),
        urls=sorted({u for c in found for u in urls(c)}), ports=sorted({p for s in states for p in s.ports}),
        last_error=text, last_error_at=when.isoformat().replace("+00:00", "Z") if when and when.year > 1 else None,
        containers=[s.container for s in states])


def summarise(inspected: Sequence[dict[str, Any]], tails: dict[str, list[str]], now: datetime,
              expected: Sequence[str] = compose.SERVICES) -> list[ServiceStatus]:
    """One row per service from `docker inspect` of its containers and each container's log tail
    (by container name); the `expected` services come first, in that order, a missing one too."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for container in inspected:
        labels = (container.get("Config") or {}).get("Labels") or {}
        name = labels.get("com.docker.compose.service") or str(container.get("Name", "?")).lstrip("/")
        by_service.setdefault(name, []).append(container)
    order = [*expected, *sorted(set(by_service) - set(expected))]
    rows = []
    for name in order:
        found = sorted(by_service.get(name, []), key=lambda c: str(c.get("Name", "")))
        if found:
            rows.append(_service(name, found, tails, now))
        elif by_service:  # a stack with none at all is simply not running
            rows.append(ServiceStatus(name, "missing", "-", 0, 1, "", "", None, None, 0))
    return rows


def is_running(rows: Sequence[ServiceStatus]) -> bool:
    return any(row.running for row in rows)


# ---------------------------------------------------------------------------------------------
# output


def as_dicts(rows: Sequence[ServiceStatus]) -> list[dict[str, Any]]:
    """The --json objects: the dataclass' fields in order, with `replicas` and `uptime` for people."""
    out = []
    for row in rows:
        item = asdict(row)
        item["replicas"] = row.replicas
        item["uptime"] = humanise(row.uptime_seconds)
        out.append(item)
    return out


def as_json(rows: Sequence[ServiceStatus], *, indent: int | None = 2) -> str:
    return json.dumps(as_dicts(rows), indent=indent)


def _clip(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[:max(1, width - 1)] + "…"


def table(rows: Sequence[ServiceStatus], now: datetime | None = None, *, width: int | None = None) -> str:
    """The services aligned under a header, then each one's last error line (clipped to `width`)."""
    now = now or datetime.now(UTC)
    body = progress.columns(
        ("SERVICE", "STATE", "HEALTH", "REPLICAS", "TAG", "UPTIME", "RESTARTS", "URLS"),
        [(r.service, r.state, r.health, r.replicas, r.tag or "-", humanise(r.uptime_seconds), str(r.restarts),
          " ".join(r.urls) or "-") for r in rows])
    pad = max((len(r.service) for r in rows), default=0)
    errors = []
    for r in rows:
        if r.last_error:
            when = parse_time(r.last_error_at)
            age = f"{humanise((now - when).total_seconds())} ago" if when else "earlier"
            errors.append(f"  {r.service:<{pad}}  {age:>10}  {r.last_error}")
    tail = (f"last error or warning in each service's last {TAIL_LINES} log lines:", *errors) if errors \
        else (f"no error or warning in any service's last {TAIL_LINES} log lines",)
    return "\n".join(_clip(line, width) for line in [*body.splitlines(), "", *tail])


def redraw(text: str, *, first: bool) -> str:
    """`text` over the previous frame: cursor home, each line cleared to its end, the rest of the
    screen cleared (the whole screen before the first frame)."""
    lines = "".join(f"{line}{CLEAR_LINE}\n" for line in text.split("\n"))
    return f"{CLEAR_SCREEN if first else ''}{HOME}{lines}{CLEAR_BELOW}"


def heading(config: StackConfig, interval: float, at: datetime) -> str:
    return (f"{config.compose.project_name} ({config.stage})  {at.astimezone():%H:%M:%S}  "
            f"every {interval:g}s, Ctrl-C to stop")


def not_running(config: StackConfig) -> StackyardError:
    return StackyardError(f"the stack {config.compose.project_name} ({config.stage}) is not running",
                          f"start it with `inv up{'' if config.stage == 'dev' else ' --stage ' + config.stage}`")


# ---------------------------------------------------------------------------------------------
# the commands


def collect(root: Path, config: StackConfig, *, tail: int = TAIL_LINES) -> list[ServiceStatus]:
    """The rows for the stack as it is now; [] when it was never started from this checkout."""
    env_file = compose_env.env_file_path(root, config)
    if not env_file.exists():
        return []
    inspected = compose_cli.inspect_all(compose.project(root, config, env_file))
    names = [str(c.get("Name", "")).lstrip("/") for c in inspected]

    def tail_of(name: str) -> list[str]:
        try:
            return compose_cli.log_tail(name, tail)
        except StackyardError:  # removed meanwhile: no error line, the state says the rest
            return []

    with ThreadPoolExecutor(max_workers=4) as pool:
        tails = dict(zip(names, pool.map(tail_of, names), strict=True))
    return summarise(inspected, tails, datetime.now(UTC))


def watch(root: Path, config: StackConfig, *, interval: float, json_lines: bool, tty: bool, width: int | None,
          first: list[ServiceStatus] | None = None) -> None:
    """Refresh every `interval` seconds until Ctrl-C (KeyboardInterrupt, for the caller): in place
    on a terminal, a new table (or with `json_lines` one JSON line) each time otherwise. A stack that
    stops, or a docker command that fails, shows in the frame and the watch goes on."""
    rows, drawn = first, False
    while True:
        started = time.monotonic()
        text = ""
        try:
            rows = collect(root, config) if rows is None else rows
        except StackyardError as error:
            text = f"✗ {error}"
        if json_lines:
            print(text or as_json(rows or [], indent=None), flush=True)
        else:
            if not text:
                text = table(rows or [], width=width) if is_running(rows or []) else str(not_running(config))
            body = f"{heading(config, interval, datetime.now(UTC))}\n\n{text}"
            sys.stdout.write(redraw(body, first=not drawn) if tty else body + "\n\n")
            sys.stdout.flush()
        drawn, rows = True, None
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
