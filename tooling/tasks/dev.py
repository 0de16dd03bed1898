"""Developer checks: the test suite with its reports, lint, and the machine's readiness."""

import json as jsonlib
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling.cli import lint as lint_cli
from tooling.cli import python
from tooling.errors import CommandError, StackyardError
from tooling.tasks.common import ROOT, friendly, load_config

LAYERS = {"unit": "tests/unit", "integration": "tests/integration", "e2e": "tests/e2e"}
PYTEST_NO_TESTS = 5
# JUnit XML, coverage data and reports of `inv test`, one folder (reports/ is gitignored); the
# coverage data file is set in pyproject.toml [tool.coverage.run] data_file, inside it.
REPORTS = ROOT / "reports" / "tests"
TEST_EXTRA = "install the test extra: .venv/bin/pip install -e '.[test]' (./dev does it), or use --no-coverage"


@task(help={"layer": "unit, integration, e2e or all (default)", "k": "pytest -k expression",
            "verbose": "pytest -v", "no_coverage": "skip coverage measurement and the floor (quicker local runs)"})
@friendly
def test(c: Context, layer: str = "all", k: str = "", verbose: bool = False, no_coverage: bool = False) -> None:
    """Run the tests (unit, integration, end to end) with coverage; JUnit XML and coverage in reports/tests/.

    Example: `inv test`, `inv test --layer unit --no-coverage -k doctor`."""
    if layer != "all" and layer not in LAYERS:
        raise Exit(f"✗ unknown layer {layer!r}: use one of {', '.join(LAYERS)} or all", code=2)
    REPORTS.mkdir(parents=True, exist_ok=True)
    args = pytest_args(layer, k, verbose, coverage=not no_coverage)
    if not no_coverage:
        python.require_module("pytest_cov", "pytest-cov", TEST_EXTRA)
    failure: Exit | None = None
    try:
        python.pytest(args, cwd=ROOT)
    except CommandError as error:
        if error.returncode == PYTEST_NO_TESTS:
            failure = Exit("✗ pytest collected no tests: that is a failure here", code=1)
        else:
            failure = Exit(f"✗ tests failed (pytest exit {error.returncode})", code=error.returncode)
    coverage_md, floor_failure = ("coverage not measured (--no-coverage)", None) if no_coverage else coverage_reports()
    (REPORTS / "summary.md").write_text(summary_markdown(junit_counts(REPORTS / "junit.xml"), coverage_md))
    if failure is not None:
        raise failure
    if floor_failure is not None:
        raise Exit(floor_failure, code=1)


def pytest_args(layer: str, k: str, verbose: bool, *, coverage: bool) -> list[str]:
    """pytest's argv for `inv test`: the layer's paths, JUnit XML, and coverage collected by pytest-cov.

    pytest-cov (7.1) only collects here (`--cov-report=` prints nothing, `--cov-fail-under=0`
    leaves the floor to `coverage_reports`); its sources and the subprocess patch come from
    [tool.coverage] in pyproject.toml, and it combines the subprocesses' data files at the end."""
    paths = list(LAYERS.values()) if layer == "all" else [LAYERS[layer]]
    args = [*paths, "-ra", f"--junitxml={REPORTS / 'junit.xml'}"]
    if coverage:
        args += ["--cov", "--cov-report=", "--cov-fail-under=0"]
    if k:
        args += ["-k", k]
    if verbose:
        args.append("-v")
    return args


def coverage_floor(root: Path = ROOT) -> float:
    """The tooling/ floor, kept once: pyproject.toml [tool.coverage.report] fail_under."""
    with open(root / "pyproject.toml", "rb") as handle:
        return float(tomllib.load(handle)["tool"]["coverage"]["report"]["fail_under"])


def coverage_reports() -> tuple[str, str | None]:
    """Print the coverage table; write coverage.xml, coverage.md and coverage.txt into REPORTS.

    Returns the coverage part of the run summary (markdown) and a message when tooling/ is under
    its floor (None when it is not). Each report passes --fail-under=0: only tooling/ is gated."""
    try:
        table = python.coverage(["report", "--fail-under=0"], cwd=ROOT)
        python.coverage(["xml", "--fail-under=0", "-o", str(REPORTS / "coverage.xml")], cwd=ROOT)
        markdown = python.coverage(["report", "--fail-under=0", "--format=markdown"], cwd=ROOT)
    except CommandError as error:
        print(f"✗ no coverage report: {error}")
        return "no coverage data", "✗ coverage could not be reported (see above)"
    tooling, services = _total("tooling"), _total("services")
    floor = coverage_floor()
    print(table.rstrip())
    line = (f"{'✓' if tooling >= floor else '✗'} coverage: tooling/ {tooling:.1f} % (floor {floor:g} %), "
            f"services/ {services:.1f} %")
    print(line)
    (REPORTS / "coverage.txt").write_text(table)
    (REPORTS / "coverage.md").write_text(markdown)
    print(f"reports: {REPORTS}/ (junit.xml, coverage.xml, coverage.md, summary.md)")
    failure = (f"✗ tooling/ coverage {tooling:.1f} % is under the floor of {floor:g} % "
               "(pyproject.toml [tool.coverage.report] fail_under)") if tooling < floor else None
    return f"{line}\n\n{markdown.strip()}", failure


def _total(area: str) -> float:
    """The total coverage of one top-level folder (0 when nothing in it was measured)."""
    try:
        out = python.coverage(["report", "--fail-under=0", f"--include={area}/*", "--format=total"], cwd=ROOT)
    except CommandError:  # "No data to report."
        return 0.0
    return float(out.strip())


def junit_counts(path: Path) -> dict[str, int]:
    """tests, failures, errors and skipped from pytest's JUnit XML (all 0 when it is missing)."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not path.exists():
        return counts
    root = ElementTree.parse(path).getroot()
    for suite in root.iter("testsuite"):
        for key in counts:
            counts[key] += int(suite.get(key, "0"))
    return counts


def summary_markdown(counts: dict[str, int], coverage: str) -> str:
    """The run-page summary (CI appends it to $GITHUB_STEP_SUMMARY): test counts and coverage."""
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    return (f"### Tests\n\n| passed | failed | errors | skipped | total |\n|---|---|---|---|---|\n"
            f"| {passed} | {counts['failures']} | {counts['errors']} | {counts['skipped']} | {counts['tests']} |\n\n"
            f"### Coverage\n\n{coverage}\n")


@task(help={"json": "print the results as JSON on stdout"})
@friendly
def lint(c: Context, json: bool = False) -> None:
    """Lint: ruff, mypy --strict on tooling/, hadolint on every Dockerfile, the workflows' schema.

    Example: `inv lint`, `inv lint --json`."""
    results = lint_cli.run_all(ROOT)
    if json:
        print(jsonlib.dumps({"ok": all(r.ok for r in results), "checks": [r.__dict__ for r in results]}, indent=2))
    else:
        for result in results:
            print(f"{'✓' if result.ok else '✗'} {result.name} ({result.seconds:.1f}s)")
            if not result.ok:
                print("    " + result.output.replace("\n", "\n    "))
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise StackyardError(f"lint failed: {', '.join(failed)}", "fix the findings above, then run `./dev lint` again")


@task(help={"json": "print the checks as JSON on stdout: {ok, seconds, checks: [{name, status, detail, fix}]}",
            "stage": "config stage whose ports and image source are checked (default dev)"})
@friendly
def doctor(c: Context, json: bool = False, stage: str = "dev") -> None:
    """Check this machine for the stack: each ✓ ok, ✗ blocks it, ! works but…, with the fix; exit 1 on any ✗.

    Docker daemon and version, compose v2, builder, image store, cgroups, memory and cores, host
    ports, image source (registry), disk, proxy and CA settings, kind, kubectl, the node image.
    Example: `inv doctor`, `inv doctor --json | python3 -m json.tool`."""
    import time

    from tooling.doctor import report, run

    started = time.monotonic()
    checks = run.all_checks(ROOT, load_config(stage))
    seconds = time.monotonic() - started
    print(report.as_json(checks, seconds) if json else report.text(checks, seconds))
    if any(check.blocks for check in checks):
        raise Exit(code=1)
