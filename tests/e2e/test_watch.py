"""`inv up --watch` on a real stack: an edit of the model reaches the next answer without a build, a
syntax error is printed at once and the next good save recovers, Ctrl-C leaves the stack running.

The test edits services/stackyard/model/simulate.py in this checkout (the bind mount reads it
from here) and puts it back in `finally`."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_compose_stack import inv, wait_done
from tests.integration.support import free_port
from tooling.images import ImagePlan

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "services/stackyard/model/simulate.py"
ANCHOR = 'text = f"Turn {len(user_turns)}: '


class WatchProcess:
    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.process = subprocess.Popen([str(Path(sys.executable).parent / "inv"), "up", "--stage", "ci", "--watch",
                                         "--json", "--port", str(port)], cwd=ROOT, env={**os.environ, **env},
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith('{"event"'):
                self.events.append(json.loads(line))

    def next(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if e["event"] == event]
            if found:
                self.events.remove(found[0])
                return found[0]
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"`inv up --watch` exited {self.process.returncode}:\n{stderr[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"no {event!r} event within {timeout}s; seen {self.events}")


@pytest.fixture
def watching(stack_images: ImagePlan) -> Iterator[tuple[WatchProcess, str, dict[str, str]]]:
    env = {"STACKYARD__COMPOSE__PROJECT_NAME": f"stackyard-e2e-watch-{uuid.uuid4().hex[:6]}"}
    port = free_port()
    original = SOURCE.read_text()
    # An edit before the start: the tree's tag has no images, but the runtime is the same as the
    # images stack_images built, so --watch starts on those without building (tooling/image_reuse.py).
    SOURCE.write_text(original + f"\n# edited before `inv up --watch` ({uuid.uuid4().hex})\n")  # a tag never built
    watch = WatchProcess(port, env)
    try:
        watch.next("watching", timeout=600)
        yield watch, f"http://localhost:{port}", env
    finally:
        SOURCE.write_text(original)
        if watch.process.poll() is None:
            watch.process.send_signal(signal.SIGINT)
            watch.process.wait(timeout=30)
        inv("down", "--stage", "ci", "--volumes", env=env)


def _answer(url: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as client:
        accepted = client.post("/v1/tasks", json={"agent": "chat", "input": "watch me"})
        assert accepted.status_code == 202, accepted.text
        view = wait_done(client, accepted.json()["id"], timeout=60)
    assert view["status"] == "completed", view
    return str(view["result"])


def test_an_edit_is_live_a_syntax_error_is_shown_and_the_next_save_recovers(
        watching: tuple[WatchProcess, str, dict[str, str]]) -> None:
    watch, url, env = watching
    original = SOURCE.read_text()
    assert ANCHOR in original and "[edited]" not in _answer(url)

    SOURCE.write_text(original.replace(ANCHOR, ANCHOR + "[edited] "))
    reload = watch.next("reload", timeout=90)
    assert reload["ok"] and reload["services"] == ["model"], reload
    assert "[edited]" in _answer(url)

    SOURCE.write_text(original.replace("def tokens(text: str)", "def tokens(text: str"))
    broken = watch.next("reload", timeout=10)
    assert not broken["ok"] and broken["services"] == [] and broken["seconds"] < 5, broken
    assert "SyntaxError" in broken["detail"] and "simulate.py" in broken["detail"]
    assert "[edited]" in _answer(url)  # still the previous good code

    SOURCE.write_text(original.replace(ANCHOR, ANCHOR + "[fixed] "))
    recovered = watch.next("reload", timeout=90)
    assert recovered["ok"] and recovered["services"] == ["model"], recovered
    assert "[fixed]" in _answer(url)

    SOURCE.write_text(original.replace("from dataclasses import dataclass",
                                       "from dataclasses import dataclass\nimport no_such_module_here"))
    crashed = watch.next("reload", timeout=90)
    assert not crashed["ok"] and "model did not start" in crashed["error"], crashed
    assert "ModuleNotFoundError" in crashed["detail"], crashed

    SOURCE.write_text(original)
    assert watch.next("reload", timeout=90)["ok"]

    watch.process.send_signal(signal.SIGINT)
    assert watch.process.wait(timeout=30) == 0
    assert watch.next("stopped", timeout=5)
    started = watch.process.stderr.read() if watch.process.stderr else ""
    assert "--watch: the images :" in started and "building stackyard/" not in started, started[-2000:]
    status = json.loads(inv("status", "--stage", "ci", "--json", env=env).stdout)
    assert status and all(row["state"] == "running" for row in status), status
