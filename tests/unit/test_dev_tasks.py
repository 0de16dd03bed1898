"""`inv test` and `inv lint`: the argv they send through the one seam (faked, as in test_cli_seam.py)."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from tooling.cli import lint as lint_cli
from tooling.cli import run as run_module
from tooling.errors import CommandError, ToolMissing
from tooling.tasks import dev

ROOT = Path(__file__).resolve().parents[2]
JUNIT = ('<testsuites><testsuite name="pytest" tests="7" failures="1" errors="0" skipped="2">'
         '</testsuite></testsuites>')


class FakeSeam:
    """Stands in for tooling.cli.run.run: records argv; answers coverage like coverage 7.17 does."""

    def __init__(self, reports: Path, pytest_exit: int = 0, tooling_total: str = "91.5") -> None:
        self.calls: list[list[str]] = []
        self.reports = reports
        self.pytest_exit = pytest_exit
        self.tooling_total = tooling_total

    def __call__(self, argv: list[str], **_: object) -> str:
        argv = list(argv)
        self.calls.append(argv)
        if argv[1:3] == ["-m", "pytest"]:
            (self.reports / "junit.xml").write_text(JUNIT)
            if self.pytest_exit:
                raise CommandError(argv, self.pytest_exit, "")
        if argv[1:3] == ["-m", "coverage"]:
            if "--format=total" in argv:
                return self.tooling_total if "--include=tooling/*" in argv else "70.0"
            if "--format=markdown" in argv:
                return "| Name | Stmts | Miss | Cover |\n|---|---:|---:|---:|\n| **TOTAL** | 10 | 1 | 90% |\n"
            return "Name    Stmts   Miss  Cover\nTOTAL      10      1    90%\n"
        return ""

    def pytest_argv(self) -> list[str]:
        (argv,) = [a for a in self.calls if a[1:3] == ["-m", "pytest"]]
        return argv


@pytest.fixture
def reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "reports/tests"
    monkeypatch.setattr(dev, "REPORTS", folder)
    yield folder


def test_inv_test_runs_pytest_with_junit_and_coverage_then_the_reports(
        reports: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seam = FakeSeam(reports)
    monkeypatch.setattr(run_module, "run", seam)
    dev.test(Context(), layer="unit", k="seam and not slow")
    assert seam.pytest_argv() == [sys.executable, "-m", "pytest", "tests/unit", "-ra",
                                  f"--junitxml={reports / 'junit.xml'}", "--cov", "--cov-report=",
                                  "--cov-fail-under=0", "-k", "seam and not slow"]
    coverage = [a[3:] for a in seam.calls if a[1:3] == ["-m", "coverage"]]
    assert ["xml", "--fail-under=0", "-o", str(reports / "coverage.xml")] in coverage
    assert ["report", "--fail-under=0", "--include=tooling/*", "--format=total"] in coverage
    assert all("--fail-under=0" in a for a in coverage), "only the tooling/ floor gates, in the task"
    out = capsys.readouterr().out
    assert "TOTAL" in out and "✓ coverage: tooling/ 91.5 % (floor 85 %), services/ 70.0 %" in out
    summary = (reports / "summary.md").read_text()
    assert "| 4 | 1 | 0 | 2 | 7 |" in summary and "| **TOTAL** |" in summary
    assert (reports / "coverage.md").exists() and (reports / "coverage.txt").exists()


def test_inv_test_fails_under_the_floor_kept_in_pyproject(reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert dev.coverage_floor(ROOT) == 85
    monkeypatch.setattr(run_module, "run", FakeSeam(reports, tooling_total="64.9"))
    with pytest.raises(Exit) as caught:
        dev.test(Context(), layer="unit")
    assert caught.value.code == 1 and "64.9 % is under the floor of 85 %" in str(caught.value.message)


def test_no_tests_collected_is_a_failure_and_no_coverage_skips_measurement(
        reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seam = FakeSeam(reports, pytest_exit=5)
    monkeypatch.setattr(run_module, "run", seam)
    with pytest.raises(Exit) as caught:
        dev.test(Context(), layer="e2e", k="test_kind", no_coverage=True)
    assert caught.value.code == 1 and "no tests" in str(caught.value.message)
    assert not any(a[1:3] == ["-m", "coverage"] for a in seam.calls)
    assert "--cov" not in seam.pytest_argv() and seam.pytest_argv()[-2:] == ["-k", "test_kind"]
    assert "coverage not measured" in (reports / "summary.md").read_text()


def test_a_failing_pytest_keeps_its_exit_code_after_the_reports(reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seam = FakeSeam(reports, pytest_exit=1)
    monkeypatch.setattr(run_module, "run", seam)
    with pytest.raises(Exit) as caught:
        dev.test(Context())
    assert caught.value.code == 1
    assert seam.pytest_argv()[3:6] == ["tests/unit", "tests/integration", "tests/e2e"]
    assert (reports / "coverage.xml").parent.exists() and (reports / "summary.md").exists()


def test_the_flags_are_the_ones_ci_uses() -> None:
    names = {flag for arg in dev.test.get_arguments() for flag in arg.names}
    assert {"layer", "k", "verbose", "no-coverage"} <= names
    assert {flag for arg in dev.lint.get_arguments() for flag in arg.names} >= {"json"}


def test_lint_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(run_module, "run", lambda argv, **_: calls.append(list(argv)) or "")
    results = lint_cli.run_all(ROOT)
    assert [r.name for r in results] == ["ruff", "mypy --strict", "hadolint", "workflow schema"]
    assert all(r.ok for r in results)
    tools = [argv[3:] for argv in calls]  # after `python -c <stdout→stderr>`
    assert tools[0][1:] == ["-m", "ruff", "check", "--output-format=concise",
                            "tooling", "tests", "services", "tasks.py"]
    assert tools[1][1:] == ["-m", "mypy", "--strict", "tooling"]
    assert tools[2][0].endswith("hadolint") and tools[2][1:4] == ["--config", ".hadolint.yaml", "--no-color"]
    assert set(tools[2][4:]) == {str(p.relative_to(ROOT)) for p in (ROOT / "deploy/docker").glob("*.Dockerfile")}
    assert tools[3][1:5] == ["-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
    assert ".github/workflows/ci.yml" in tools[3]


def test_lint_runs_every_check_and_fails_when_one_fails(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    def fake(argv: list[str], **_: object) -> str:
        if "ruff" in argv:
            raise CommandError(argv, 1, "tooling/x.py:1:1: F401 `os` imported but unused")
        return ""

    monkeypatch.setattr(run_module, "run", fake)

    def no_hadolint(tool: str) -> str:
        raise ToolMissing(tool, lint_cli.INSTALL_HINT)

    monkeypatch.setattr(lint_cli, "_binary", no_hadolint)
    with pytest.raises(Exit) as caught:
        dev.lint(Context(), json=True)
    assert caught.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert [c["ok"] for c in report["checks"]] == [False, True, False, True] and report["ok"] is False
    assert "F401" in report["checks"][0]["output"]
    assert "`hadolint` is not installed" in report["checks"][2]["output"] and "[lint]" in report["checks"][2]["output"]
