"""Which files changed, by polling modification times.

Polling, not inotify: no extra dependency, it works the same on every filesystem Docker Desktop
and remote editors use, and the watched trees are a few hundred files (one poll is ~2 ms)."""

import time
from collections.abc import Callable, Iterable
from pathlib import Path

# What `inv up --watch` looks at, relative to the repo root.
WATCHED = ("services", "envs", "deploy/docker")
_IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", "dist"}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", ".tmp", "~")

Snapshot = dict[str, tuple[int, int]]


def ignored(relative: str) -> bool:
    """Editor droppings and build output: saving them must not restart anything."""
    parts = relative.split("/")
    name = parts[-1]
    return (any(part in _IGNORED_DIRS or part.endswith(".egg-info") for part in parts[:-1])
            or name.endswith(_IGNORED_SUFFIXES) or name.startswith((".#", "#")) or name == "4913")


def snapshot(root: Path, watched: Iterable[str] = WATCHED) -> Snapshot:
    """path relative to root → (mtime in ns, size) for every watched file."""
    found: Snapshot = {}
    for top in watched:
        for path in (root / top).rglob("*"):
            relative = path.relative_to(root).as_posix()
            if ignored(relative):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed between listing and stat
                continue
            if path.is_file():
                found[relative] = (stat.st_mtime_ns, stat.st_size)
    return found


def difference(before: Snapshot, after: Snapshot) -> list[str]:
    """Files added, removed or modified."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


class Poller:
    """Blocks until files change; returns them once the burst of writes an editor makes has settled."""

    def __init__(self, root: Path, *, interval: float = 0.2, settle: float = 0.15,
                 take: Callable[[Path], Snapshot] = snapshot) -> None:
        self.root, self.interval, self.settle, self._take = root, interval, settle, take
        self.current = take(root)

    def wait(self) -> tuple[float, list[str]]:
        """(when the change was saved: the newest modification time, or when a removal was seen; the files)."""
        while True:
            time.sleep(self.interval)
            latest = self._take(self.root)
            changed = difference(self.current, latest)
            if not changed:
                continue
            seen = time.time()
            while True:  # until a poll finds nothing new
                time.sleep(self.settle)
                settled = self._take(self.root)
                if settled == latest:
                    break
                latest = settled
            changed = difference(self.current, latest)
            self.current = latest
            if changed:
                return max((latest[path][0] / 1e9 for path in changed if path in latest), default=seen), changed
