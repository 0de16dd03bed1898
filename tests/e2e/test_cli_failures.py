"""The CLI fails fast and says what to do: Docker down, compose missing, broken config."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INV = str(Path(sys.executable).parent / "inv")

pytestmark = pytest.mark.e2e


def inv(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([INV, *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=60, check=False)
    return result, time.monotonic() - started


def test_up_with_docker_unreachable_fails_fast_with_a_fix(tmp_path: Path) -> None:
    result, seconds = inv("up", env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert result.returncode == 1
    assert "Docker daemon is not reachable" in result.stderr and "start it" in result.stderr
    assert seconds < 5, f"took {seconds:.1f}s"


def test_up_without_compose_v2_fails_fast_with_a_fix(tmp_path: Path) -> None:
    probe = subprocess.run(["docker", "compose", "version"], env={**os.environ, "DOCKER_CONFIG": str(tmp_path)},
                           capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("compose v2 is installed system-wide here, so it cannot be hidden from the CLI")
    result, seconds = inv("up", env={"DOCKER_CONFIG": str(tmp_path)})
    assert result.returncode == 1
    assert "docker compose v2 is not available" in result.stderr and "./dev" in result.stderr
    assert seconds < 5, f"took {seconds:.1f}s"


def envs_with_dev_yaml(tmp_path: Path, text: str) -> Path:
    """A copy of envs/ whose dev.yaml is `text`."""
    envs = tmp_path / "envs"
    shutil.copytree(ROOT / "envs", envs, ignore=shutil.ignore_patterns("*.env"))
    (envs / "dev.yaml").write_text(text)
    return envs


def test_broken_stage_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    envs = envs_with_dev_yaml(tmp_path, "gateway:\n  require_api_key: false\n  port: not-a-port\n")
    result, seconds = inv("up", env={"STACKYARD_ENVS_DIR": str(envs)})
    assert result.returncode == 1
    assert f"{envs / 'dev.yaml'}: gateway.port" in result.stderr
    assert seconds < 5


def test_unknown_key_names_the_file(tmp_path: Path) -> None:
    envs = envs_with_dev_yaml(tmp_path, "gateway:\n  require_api_key: false\nworkers:\n  replicas: 2\n")
    result, _ = inv("status", env={"STACKYARD_ENVS_DIR": str(envs)})
    assert result.returncode == 1
    assert f"{envs / 'dev.yaml'}: workers: unknown key" in result.stderr
