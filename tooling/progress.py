"""Progress for long operations: one line per step with its time, a heartbeat while it runs."""

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

HEARTBEAT_SECONDS = 10.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str, heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Print `label …`, a still-running line every `heartbeat` seconds, then the elapsed time."""
    started = time.monotonic()
    say(f"▸ {label} …")
    finished = threading.Event()

    def beat() -> None:
        while not finished.wait(heartbeat):
            say(f"  … {label}: {time.monotonic() - started:.0f}s")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        finished.set()
        say(f"✗ {label} failed after {time.monotonic() - started:.1f}s")
        raise
    finished.set()
    say(f"✓ {label} ({time.monotonic() - started:.1f}s)")


def columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Rows aligned under a header, two spaces between columns."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)
