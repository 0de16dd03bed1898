"""The one CLI seam: typed errors, argv lists; and the argv the toolkit builds through it."""

import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tooling import compose, compose_env, config, images
from tooling.cli import docker as docker_cli
from tooling.cli import run as run_module
from tooling.errors import CommandError, StackyardError
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

    monkeypatch.setattr(run_module, "run", fake_run)
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


class FakeBuilds:
    """Stands in for tooling.cli.run.run: records argv and env; this engine has no buildx plugin."""

    def __init__(self, fail_build: bool = False) -> None:
        self.calls: list[tuple[list[str], Mapping[str, str] | None]] = []
        self.fail_build = fail_build

    def __call__(self, argv: list[str], *, env: Mapping[str, str] | None = None, **_: object) -> str:
        self.calls.append((list(argv), env))
        if argv[1:2] == ["buildx"]:
            raise CommandError(argv, 1, "docker: 'buildx' is not a docker command.")
        if argv[1:2] == ["build"] and self.fail_build:
            raise CommandError(argv, 1, "Step 3/7 : RUN apt-get install -y redis-server\nE: Unable to locate package")
        return "sha256:0123\n"

    def builds(self) -> list[tuple[list[str], Mapping[str, str] | None]]:
        return [(argv, env) for argv, env in self.calls if argv[1:2] == ["build"]]


@pytest.fixture
def fake_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBuilds]:
    runner = FakeBuilds()
    monkeypatch.setattr(run_module, "run", runner)
    monkeypatch.delenv("DOCKER_BUILDKIT", raising=False)
    docker_cli._has_buildx.cache_clear()  # the buildx probe is remembered per process
    yield runner
    docker_cli._has_buildx.cache_clear()


def test_build_gets_the_legacy_builder_in_its_own_environment_only(fake_builds: FakeBuilds) -> None:
    before = dict(os.environ)
    docker_cli.build(Path("/ctx"), dockerfile=Path("/ctx/redis.Dockerfile"), tag="stackyard/redis:deb-1",
                     build_args={"BASE_IMAGE": "stackyard/base:b-1"},
                     labels={"org.opencontainers.image.version": "deb-1"})
    assert fake_builds.builds() == [(
        ["docker", "build", "--quiet", "--build-arg", "BASE_IMAGE=stackyard/base:b-1",
         "--label", "org.opencontainers.image.version=deb-1", "--file", "/ctx/redis.Dockerfile",
         "--tag", "stackyard/redis:deb-1", "/ctx"],
        {"DOCKER_BUILDKIT": "0"})]
    assert dict(os.environ) == before, "the builder choice must not leak into the process environment"
    docker_cli.build(Path("/ctx"), dockerfile=Path("/ctx/x.Dockerfile"), tag="t:1")
    assert [argv[1] for argv, _ in fake_builds.calls] == ["buildx", "build", "build"], "buildx is probed once"


def test_a_user_set_docker_buildkit_is_left_alone(fake_builds: FakeBuilds, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDKIT", "1")
    docker_cli.build(Path("/ctx"), dockerfile=Path("/ctx/x.Dockerfile"), tag="t:1")
    assert fake_builds.builds()[0][1] == {}
    assert not any(argv[1] == "buildx" for argv, _ in fake_builds.calls)


def test_infra_images_are_built_through_the_adapter_and_a_failure_names_the_image(
        fake_builds: FakeBuilds, monkeypatch: pytest.MonkeyPatch) -> None:
    # `docker image inspect` goes through python-on-whales, not the seam: the one fake beside it.
    monkeypatch.setattr(docker_cli, "image_exists", lambda ref: False)
    cfg = config.load("dev", ROOT / "envs", environ={})
    plan = images.make_plan(cfg, ROOT, "bootstrap", tag="t")
    images.ensure_infra(plan, ROOT, ("redis",))
    ((argv, env),) = fake_builds.builds()
    assert argv[argv.index("--file") + 1] == str(ROOT / "deploy/docker/redis.Dockerfile")
    assert argv[argv.index("--tag") + 1] == plan.redis and f"BASE_IMAGE={plan.base}" in argv
    assert argv[-1] == str(ROOT) and env == {"DOCKER_BUILDKIT": "0"}
    fake_builds.fail_build = True
    with pytest.raises(StackyardError) as caught:
        images.ensure_infra(plan, ROOT, ("postgres",))
    assert str(caught.value).startswith(f"building {plan.postgres} failed: `docker build --quiet")
    assert "Unable to locate package" in str(caught.value)


def test_compose_env_renders_every_variable_the_compose_file_requires() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    secrets = config.Secrets(postgres_password="p@ss/word")
    plan = images.make_plan(cfg, ROOT, "bootstrap", tag="abc")
    env = compose_env.project_env(cfg, plan)
    required = set(re.findall(r"\$\{(STACKYARD_[A-Z_]+):\?", (ROOT / compose.COMPOSE_FILE).read_text()))
    assert required <= set(env), f"not rendered: {required - set(env)}"
    assert env["STACKYARD_TAG"] == "abc"
    gateway = compose_env.component_envs(cfg, secrets)["gateway"]
    assert gateway["STACKYARD_DATABASE_URL"] == "postgresql://stackyard:p%40ss%2Fword@postgres:5432/stackyard"
    assert gateway["STACKYARD_REQUIRE_API_KEY"] == "false"


def test_env_file_is_private(tmp_path: Path) -> None:
    path = compose_env.write_env_file(tmp_path / "x.env", {"A": "1", "B": "two words"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert "B='two words'" in path.read_text()
    with pytest.raises(StackyardError, match="single quote"):
        compose_env.write_env_file(tmp_path / "y.env", {"A": "it's"})


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
