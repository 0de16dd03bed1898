"""`inv logs` lines: which service said it (a stable colour per service), JSON log lines compactly.

compose prints each line as `NAME  | LINE`, NAME the container less the project (`worker-1`).
Our services log one JSON object per line (services/stackyard/common/logs.py): ts, level, service,
logger, msg, request_id/task_id, the call's own fields, and `error` (a formatted traceback); those
are shown as `HH:MM:SS.mmm level  msg  key=value …` with the traceback on the lines below. Any
other line (nginx, Postgres, Redis, a crash before logging is set up) is printed as it is.
"""

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RESET = "\x1b[0m"
# Service colours: no red (that is the error level's), normal then bright.
PALETTE = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
LEVEL_COLOURS = {"critical": "1;31", "error": "31", "warning": "33", "debug": "2"}
# Keys shown in the line's head (or dropped: the prefix already names the service).
HEAD_KEYS = ("ts", "level", "service", "logger", "msg", "error")
_PREFIX = re.compile(r"^(?P<name>[^\s|]+) +\|(?: (?P<line>.*))?$")
_REPLICA = re.compile(r"^(?P<service>.+)-(?P<index>\d+)$")
_PLAIN_VALUE = re.compile(r"^[^\s\"'=]+$")


def use_colour(*, isatty: bool, no_color_env: str | None, no_color_flag: bool) -> bool:
    """Colour only on a terminal, unless --no-color or NO_COLOR (set and not empty, no-color.org)."""
    return isatty and not no_color_flag and not no_color_env


def colour_for(service: str, known: Sequence[str] = ()) -> str:
    """The ANSI colour of a service: the known services in order (all distinct), others by a
    checksum of the name (the same in every run, unlike `hash()`)."""
    if service in known:
        return PALETTE[list(known).index(service) % len(PALETTE)]
    return PALETTE[zlib.crc32(service.encode()) % len(PALETTE)]


def paint(text: str, code: str, on: bool) -> str:
    return f"\x1b[{code}m{text}{RESET}" if on and code else text


@dataclass(frozen=True)
class Source:
    service: str  # colours the line
    label: str  # printed: the service, or `worker-2` for a second replica


def split_prefix(line: str) -> tuple[Source | None, str]:
    """compose's `worker-2  | text` as (Source("worker", "worker-2"), "text"); (None, line) otherwise."""
    match = _PREFIX.match(line)
    if not match:
        return None, line
    name = match["name"]
    replica = _REPLICA.match(name)
    if not replica:
        return Source(name, name), match["line"] or ""
    service = replica["service"]
    return Source(service, service if replica["index"] == "1" else name), match["line"] or ""


def parse_json(text: str) -> dict[str, Any] | None:
    """A service's JSON log line as a dict; None for anything else."""
    if not text.startswith("{"):
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and ("msg" in entry or "level" in entry) else None


def _value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if _PLAIN_VALUE.match(text) else json.dumps(text)


def _clock(ts: object) -> str:
    """`2026-12-08T01:30:25.931Z` → `01:30:25.931`; other values as they are."""
    text = str(ts or "")
    _, sep, clock = text.partition("T")
    return clock.rstrip("Z") if sep else text


def compact(text: str, *, colour: bool = False) -> list[str]:
    """One log line as the lines to print: a JSON entry as its head, then its traceback indented."""
    entry = parse_json(text)
    if entry is None:
        return [text]
    level = str(entry.get("level", ""))
    head = [_clock(entry.get("ts")), paint(f"{level:<7}", LEVEL_COLOURS.get(level, ""), colour),
            str(entry.get("msg", ""))]
    fields = "  ".join(f"{key}={_value(value)}" for key, value in entry.items() if key not in HEAD_KEYS)
    line = " ".join(part for part in head if part) + (f"  {fields}" if fields else "")
    error = str(entry.get("error") or "")
    return [line, *(f"    {row}" for row in error.splitlines())]


def one_line(text: str) -> str:
    """A log line as one line: a JSON entry's level, message and fields, then its traceback's last line."""
    entry = parse_json(text)
    lines = compact(text)
    if entry is None or len(lines) == 1:
        return lines[0]
    return f"{lines[0]}  ({lines[-1].strip()})"


def render(line: str, *, width: int, colour: bool, raw: bool = False, known: Sequence[str] = ()) -> list[str]:
    """One line of `docker compose logs` as the lines to print, each led by its service's label
    padded to `width` (coloured when `colour`); a line without compose's prefix passes as it is."""
    source, text = split_prefix(line.rstrip("\r\n"))
    if source is None:
        return [text]
    label = paint(source.label.ljust(width), colour_for(source.service, known), colour)
    rows = [text] if raw else compact(text, colour=colour)
    return [f"{label} | {row}" for row in rows]


def label_width(services: Sequence[str]) -> int:
    """Wide enough for each service's label and a second replica's (`worker-2`)."""
    return max((len(name) + 2 for name in services), default=0)
