"""One check's outcome, and the probe that turns a failing check into one (never a traceback)."""

import time
from collections.abc import Callable
from dataclasses import dataclass

from tooling.errors import StackyardError

OK = "ok"  # ✓
WARN = "warn"  # ! works, but…
FAIL = "fail"  # ✗ blocks the stack
SYMBOL = {OK: "✓", WARN: "!", FAIL: "✗"}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
    seconds: float = 0.0

    @property
    def blocks(self) -> bool:
        return self.status == FAIL


def ok(name: str, detail: str) -> Check:
    return Check(name, OK, detail)


def warn(name: str, detail: str, fix: str) -> Check:
    return Check(name, WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, FAIL, detail, fix)


def probe(name: str, action: Callable[[], Check | list[Check]], *, blocking: bool = True) -> list[Check]:
    """Run one check, timed; a StackyardError it raises becomes ✗ (or ! when not `blocking`)."""
    started = time.monotonic()
    try:
        found = action()
        checks = found if isinstance(found, list) else [found]
    except StackyardError as error:
        checks = [Check(name, FAIL if blocking else WARN, error.message, error.hint)]
    elapsed = time.monotonic() - started
    for check in checks:
        check.seconds = round(elapsed / len(checks), 3)
    return checks
