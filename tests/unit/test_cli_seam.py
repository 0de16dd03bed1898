"""The one CLI seam: typed errors, argv lists; and the argv the toolkit builds through it."""

import re
import sys
from pathlib import Path

import pytest

from tooling import compose, config, images
from tooling.cli import run as run_module
from tooling.cli.run import CommandError
from tooling.errors import StackyardError
from tooling.tasks.common import parse_scale

ROOT = Path(__file__).resolve().parents[2]


def test_run_returns_stdout_and_raises_typed_errors() -> None:
    assert run_module.run([sys.executable, "-c", "print('hi')"]).strip() == "hi"
    with pytest.raises(CommandError) as caught:
        run_module.run([sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert caught.value.returncode == 3
    assert caught.value.stderr == "boom"
    assert caught.value.argv[0] == sys.executable
    assert "exited with 3" in str(caught.value) and "boom" in str(caught.value)


def test_run_reports_missing_commands_and_timeouts() -> None:
    with pytest.raises(CommandError) as missing:
        run_module.run(["stackyard-no-such-tool"])
    assert missing.value.returncode == 127
    with pytest.raises(CommandError, match="timed out"):
        run_module.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.2)


def test_debug_switch_echoes_argv(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STACKYARD_DEBUG", "1")
    run_module.run([sys.executable, "-c", "pass"])
    assert f"+ {sys.executable} -c pass" in capsys.readouterr().err


def test_wheelhouse_download_argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> str:
        calls.append(list(argv))
        return ""

    monkeypatch.setattr(images, "run", fake_run)
    (tmp_path / "services").mkdir()
    (tmp_path / "services/pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["fastapi==1.0", "redis==2.0"]\n')
    target = images.ensure_wheelhouse(tmp_path, "x86_64")
    (argv,) = calls
    assert argv[1:4] == ["-m", "pip", "download"]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.11"
    assert argv[argv.index("--abi") + 1] == "cp311"
    assert "manylinux2014_x86_64" in argv
    assert argv[-2:] == ["fastapi==1.0", "redis==2.0"]
    assert (target / "requirements.txt").read_text() == "fastapi==1.0\nredis==2.0\n"
    images.ensure_wheelhouse(tmp_path, "x86_64")
    assert len(calls) == 1, "a complete wheelhouse is reused, not downloaded again"


def test_compose_env_renders_every_variable_the_compose_file_requires() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    secrets = config.Secrets(postgres_password="p@ss/word")
    plan = images.make_plan(cfg, ROOT, "bootstrap", tag="abc")
    env = compose.compose_env(cfg, secrets, plan)
    required = set(re.findall(r"\$\{(STACKYARD_[A-Z_]+):\?", (ROOT / compose.COMPOSE_FILE).read_text()))
    assert required <= set(env), f"not rendered: {required - set(env)}"
    assert env["STACKYARD_DATABASE_URL"] == "postgresql://stackyard:p%40ss%2Fword@postgres:5432/stackyard"
    assert env["STACKYARD_TAG"] == "abc"
    assert env["STACKYARD_REQUIRE_API_KEY"] == "false"


def test_env_file_is_private(tmp_path: Path) -> None:
    path = compose.write_env_file(tmp_path / "x.env", {"A": "1", "B": "two words"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert "B='two words'" in path.read_text()
    with pytest.raises(StackyardError, match="single quote"):
        compose.write_env_file(tmp_path / "y.env", {"A": "it's"})


def test_parse_scale() -> None:
    assert parse_scale(["worker=3", "gateway=2"]) == {"worker": 3, "gateway": 2}
    with pytest.raises(StackyardError, match="SERVICE=N"):
        parse_scale(["worker"])


def test_status_table_and_json() -> None:
    rows = [compose.ServiceState("gateway", "stackyard-gateway-1", "running", "healthy", ["0.0.0.0:8080->8000/tcp"])]
    table = compose.table(rows)
    assert "gateway" in table and "0.0.0.0:8080->8000/tcp" in table
    assert '"health": "healthy"' in compose.as_json(rows)
    assert "not running" in compose.table([])
