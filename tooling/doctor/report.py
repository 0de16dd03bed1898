"""The doctor's checks as text (one ✓/✗/! line each, the fix under it) and as JSON."""

import json
from collections.abc import Sequence
from dataclasses import asdict

from tooling.doctor.result import FAIL, OK, SYMBOL, WARN, Check


def text(checks: Sequence[Check], seconds: float) -> str:
    lines = []
    for check in checks:
        lines.append(f"{SYMBOL[check.status]} {check.name}: {check.detail}")
        if check.fix and check.status != OK:
            lines.append(f"    → {check.fix}")
    lines.append(summary(checks, seconds))
    return "\n".join(lines)


def summary(checks: Sequence[Check], seconds: float) -> str:
    failed = [c.name for c in checks if c.status == FAIL]
    warnings = sum(1 for c in checks if c.status == WARN)
    tail = f"{len(checks)} checks in {seconds:.1f}s, {warnings} warning(s)"
    if failed:
        return f"\n✗ the stack cannot start: {', '.join(failed)} ({tail})"
    return f"\n✓ the stack can start ({tail})"


def as_json(checks: Sequence[Check], seconds: float) -> str:
    return json.dumps({"ok": not any(c.blocks for c in checks), "seconds": round(seconds, 2),
                       "checks": [asdict(c) for c in checks]}, indent=2)
