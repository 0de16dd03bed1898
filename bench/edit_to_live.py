"""Edit → live under `inv up --watch`: from saving the model's answer text to a task that answers with it.

    .venv/bin/python bench/edit_to_live.py [--edits 5] [--url http://localhost:8080]

Without --url it starts its own watching stack (`inv up --watch --json` under the compose project
`stackyard-bench-watch` on port 8095) and removes it at the end; with --url it uses one that is
running (`./dev up --watch`). Each edit changes the text services/stackyard/model/simulate.py
answers with and saves it; from then on a new chat task is sent every 0.3 s until one completes
with the new text. Figures per edit: save → first new answer (what the developer waits for) and
save → healthy as the watch reported it. The baseline, measured in the same run on the same
stack, is one ordinary task round trip with no edit: the ratio is how many round trips an edit
costs. The source file is restored at the end, whatever happens. Issue 12's target: median
save → new answer ≤ 5 s.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "services/stackyard/model/simulate.py"
ANCHOR = 'text = f"Turn {len(user_turns)}: '
PROJECT, PORT = "stackyard-bench-watch", 8095


def ask(client: httpx.Client, text: str, timeout: float = 30) -> str:
    """Send one chat task and return its result once completed."""
    task = client.post("/v1/tasks", json={"agent": "chat", "input": text}).raise_for_status().json()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/v1/tasks/{task['id']}").json()
        if state["status"] in ("completed", "failed"):
            return str(state.get("result") or state.get("error"))
        time.sleep(0.1)
    return "(timed out)"


def first_answer_with(client: httpx.Client, marker: str, saved_at: float, timeout: float = 60) -> float:
    """Seconds from the save until a task answers with `marker`; a new task every 0.3 s meanwhile."""
    found: list[float] = []

    def one() -> None:
        if marker in ask(client, "edit to live") and not found:
            found.append(time.time() - saved_at)

    workers: list[threading.Thread] = []
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        worker = threading.Thread(target=one, daemon=True)
        worker.start()
        workers.append(worker)
        time.sleep(0.3)
    for worker in workers:
        worker.join(timeout=5)
    if not found:
        raise SystemExit(f"no answer with {marker!r} within {timeout:.0f}s of the save")
    return min(found)


class Watch:
    """Our own `inv up --watch --json`; its reload events arrive on a queue-like list."""

    def __init__(self) -> None:
        env = {**os.environ, "STACKYARD__COMPOSE__PROJECT_NAME": PROJECT}
        argv = [sys.executable, "-m", "invoke", "up", "--watch", "--json", "--port", str(PORT)]
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        self.events: list[dict[str, object]] = []
        self.buffer = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.buffer += line
            if line.startswith("{\"event\""):
                self.events.append(json.loads(line))

    def wait_for(self, event: str, timeout: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for seen in self.events:
                if seen.get("event") == event:
                    self.events.remove(seen)
                    return seen
            if self.process.poll() is not None:
                raise SystemExit(f"`inv up --watch` exited ({self.process.returncode})")
            time.sleep(0.1)
        raise SystemExit(f"no {event!r} event from `inv up --watch` within {timeout:.0f}s")

    def stop(self) -> None:
        self.process.send_signal(2)
        self.process.wait(timeout=30)
        env = {**os.environ, "STACKYARD__COMPOSE__PROJECT_NAME": PROJECT}
        subprocess.run([sys.executable, "-m", "invoke", "down", "--volumes"], cwd=ROOT, env=env, check=False,
                       capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--url", default="", help="a gateway under `inv up --watch` (default: start one)")
    args = parser.parse_args()
    original = SOURCE.read_text()
    if ANCHOR not in original:
        raise SystemExit(f"{SOURCE} no longer holds {ANCHOR!r}: update the benchmark")
    watch = None if args.url else Watch()
    rows: list[tuple[int, float, float | None]] = []
    try:
        if watch:
            watch.wait_for("watching", timeout=900)
        with httpx.Client(base_url=args.url or f"http://localhost:{PORT}", timeout=10) as client:
            ask(client, "warm up")
            baseline = statistics.median(timed_round_trip(client) for _ in range(5))
            for number in range(1, args.edits + 1):
                marker = f"[edit {number} at {time.time():.0f}]"
                SOURCE.write_text(original.replace(ANCHOR, ANCHOR + marker + " "))
                saved_at = SOURCE.stat().st_mtime
                live = first_answer_with(client, marker, saved_at)
                healthy = watch.wait_for("reload", timeout=60).get("seconds") if watch else None
                rows.append((number, live, float(healthy) if isinstance(healthy, int | float) else None))
                time.sleep(1)
    finally:
        SOURCE.write_text(original)
        if watch:
            watch.stop()
    print(f"edit → live under `inv up --watch`, {len(rows)} edits (load average {os.getloadavg()[0]:.1f})")
    print(f"{'edit':>4}  {'save→new answer s':>18}  {'save→healthy s':>15}  {'× round trip':>12}")
    for number, live, healthy in rows:
        shown = "" if healthy is None else f"{healthy:.2f}"
        print(f"{number:>4}  {live:>18.2f}  {shown:>15}  {live / baseline:>12.1f}")
    median = statistics.median(live for _, live, _ in rows)
    print(f"median save → new answer {median:.2f} s; baseline task round trip {baseline:.2f} s "
          f"(median ×{median / baseline:.1f}); target ≤ 5 s — {'met' if median <= 5 else 'NOT met'}")


def timed_round_trip(client: httpx.Client) -> float:
    started = time.monotonic()
    ask(client, "baseline")
    return time.monotonic() - started


if __name__ == "__main__":
    main()
