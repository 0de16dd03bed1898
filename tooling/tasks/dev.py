"""Developer checks: the test suite and the machine's readiness."""

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from tooling import doctor as doctor_module
from tooling.cli import python
from tooling.errors import CommandError
from tooling.tasks.common import ROOT, friendly

LAYERS = {"unit": "tests/unit", "integration": "tests/integration", "e2e": "tests/e2e"}
PYTEST_NO_TESTS = 5


@task(help={"layer": "unit, integration, e2e or all (default)", "k": "pytest -k expression",
            "verbose": "pytest -v"})
def test(c: Context, layer: str = "all", k: str = "", verbose: bool = False) -> None:
    """Run the tests: unit, integration (real containers) and end to end (`inv up`)."""
    if layer != "all" and layer not in LAYERS:
        raise Exit(f"✗ unknown layer {layer!r}: use one of {', '.join(LAYERS)} or all", code=2)
    paths = list(LAYERS.values()) if layer == "all" else [LAYERS[layer]]
    args = [*paths, "-ra"]
    if k:
        args += ["-k", k]
    if verbose:
        args.append("-v")
    try:
        python.pytest(args, cwd=ROOT)
    except CommandError as error:
        if error.returncode == PYTEST_NO_TESTS:
            raise Exit("✗ pytest collected no tests: that is a failure here", code=1) from None
        raise Exit(f"✗ tests failed (pytest exit {error.returncode})", code=error.returncode) from None


@task(help={"json": "print the checks as JSON on stdout"})
@friendly
def doctor(c: Context, json: bool = False) -> None:
    """Check this machine: Docker daemon, compose v2, image source, disk; say how to fix each."""
    results = doctor_module.run_checks(ROOT)
    print(doctor_module.as_json(results) if json else doctor_module.report(results))
    if any(not r.ok for r in results):
        raise Exit(code=1)
