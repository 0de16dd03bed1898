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
