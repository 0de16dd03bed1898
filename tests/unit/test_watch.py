"""`inv up --watch` without a stack: which files count, what a change restarts, how a reload reads."""

import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tooling.watch import changes, impact, loop


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the services' source, so the import graph is the real one and edits are safe."""
    shutil.copytree(ROOT / "services" / "stackyard", tmp_path / "services" / "stackyard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "dev.yaml").write_text("gateway: {port: 8080}\n")
    return tmp_path


def test_the_poller_returns_a_saved_file_once_and_skips_editor_and_bytecode_files(tree: Path) -> None:
    poller = changes.Poller(tree, interval=0.05, settle=0.05)
    model = tree / "services/stackyard/model/simulate.py"

    def save() -> None:
        time.sleep(0.2)
        (tree / "services/stackyard/model/.simulate.py.swp").write_text("x")
        (tree / "services/stackyard/model/__pycache__").mkdir()
        (tree / "services/stackyard/model/__pycache__/simulate.cpython-311.pyc").write_bytes(b"x")
        model.write_text(model.read_text() + "\n# edited\n")

    threading.Thread(target=save).start()
    saved_at, files = poller.wait()
    assert files == ["services/stackyard/model/simulate.py"]
    assert abs(saved_at - model.stat().st_mtime) < 0.01


def test_a_file_restarts_exactly_the_components_that_import_it(tree: Path) -> None:
    def restarted(path: str) -> set[str]:
        return impact.classify(tree, [path]).restart

    assert restarted("services/stackyard/model/simulate.py") == {"model"}
    assert restarted("services/stackyard/worker/agents.py") == {"worker"}
    everyone = {"gateway", "orchestrator", "worker", "memory", "model"}
    assert restarted("services/stackyard/common/http.py") == everyone  # every app is built on it
    streams = restarted("services/stackyard/common/streams.py")
    assert "worker" in streams and "model" not in streams and "memory" not in streams
    assert restarted("services/stackyard/schema_memory.sql") == {"memory"}
    assert restarted("services/stackyard/probe.py") == set()  # the healthcheck runs it anew each time


def test_configuration_and_build_inputs_are_told_apart_from_code(tree: Path) -> None:
    found = impact.classify(tree, ["envs/dev.yaml", "services/pyproject.toml", "deploy/docker/service.Dockerfile",
                                   "README.md"])
    assert found.reconfigure == ["envs/dev.yaml"]
    assert found.rebuild == ["services/pyproject.toml", "deploy/docker/service.Dockerfile"]
    assert found.ignored == ["README.md"] and not found.restart
    mounted = impact.classify(tree, ["deploy/docker/edge/nginx.conf"])
    assert mounted.restart == {"edge"} and not mounted.rebuild  # bind-mounted: a restart reads it


def test_a_syntax_error_is_reported_with_file_and_line_and_restarts_nothing(tree: Path) -> None:
    bad = tree / "services/stackyard/model/simulate.py"
    bad.write_text(bad.read_text().replace("def tokens(text: str)", "def tokens(text: str"))
    session = loop.Session(root=tree, config=None, secrets=None, plan=None)  # type: ignore[arg-type]
    result = loop.reload(session, time.time(), ["services/stackyard/model/simulate.py"])
    assert result is not None and not result.ok and result.services == []
    assert "services/stackyard/model/simulate.py" in result.detail and "line" in result.detail
    assert "SyntaxError" in result.detail
    line = result.line()
    assert line.startswith("✗ services/stackyard/model/simulate.py → does not compile")
    assert "\n    " in line  # the compiler's message follows, indented


def test_files_that_do_not_affect_the_stack_make_no_reload(tree: Path) -> None:
    session = loop.Session(root=tree, config=None, secrets=None, plan=None)  # type: ignore[arg-type]
    assert loop.reload(session, time.time(), ["README.md", "docs/x.md"]) is None


def test_a_reload_line_names_the_files_the_services_and_the_time() -> None:
    ok = loop.Reload(["services/stackyard/model/simulate.py"], ["model"], True, 2.345)
    assert ok.line() == "↻ services/stackyard/model/simulate.py → model restarted, healthy 2.3s after save"
    failed = loop.Reload(["a.py", "b.py", "c.py", "d.py"], ["model"], False, 3.0, "model did not start", "Traceback")
    assert failed.line().startswith("✗ a.py, b.py, c.py (+1) → model did not start (3.0s after save)")
    assert failed.line().endswith("\n    Traceback")


def test_a_crash_loop_log_is_cut_to_its_last_traceback() -> None:
    one = 'Traceback (most recent call last):\n  File "/app/stackyard/model/app.py", line 1\nImportError: x\n'
    log = '{"level": "info", "message": "starting model"}\n' + one + one.replace("x", "y")
    assert loop.last_traceback(log) == one.replace("x", "y")
    assert loop.last_traceback("no traceback here\n") == "no traceback here\n"


def test_every_file_the_compose_file_bind_mounts_is_known_to_the_watch() -> None:
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounted = {volume.split(":")[0].removeprefix("./"): name for name, service in services.items()
               for volume in service.get("volumes", []) if isinstance(volume, str) and volume.startswith("./")}
    assert mounted == impact.MOUNTED
