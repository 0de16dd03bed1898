"""Prometheus durations (`30s`, `5m`, `3d`): parse, print, and divide by a stage's time scale."""

import re

from tooling.errors import StackyardError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")


def seconds(duration: str) -> float:
    match = _DURATION.match(duration)
    if not match:
        raise StackyardError(f"{duration!r} is not a Prometheus duration", "write it like 30s, 5m, 1h or 3d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def duration(value: float) -> str:
    """The shortest exact Prometheus duration for `value` seconds (whole seconds, at least 1s)."""
    whole = max(1, round(value))
    for unit in ("d", "h", "m"):
        size = int(_UNITS[unit])
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def scaled(window: str, scale: int) -> str:
    return window if scale == 1 else duration(seconds(window) / scale)
