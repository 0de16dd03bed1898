"""`inv --list` and `inv TASK --help` import no heavy module: each task imports its logic when it runs.

A fresh interpreter per check (the test process has imported everything already). PyYAML is not
on the list: invoke's own config loader imports it."""

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

HEAVY = ("pydantic", "python_on_whales", "httpx", "locust", "pytest_kind", "kubernetes_validate",
         "tooling.config", "tooling.images", "tooling.compose", "tooling.cluster", "tooling.k8s",
         "tooling.loadtest", "tooling.monitoring", "tooling.doctor", "tooling.cli.docker")


def _imported_after(argv: list[str]) -> set[str]:
    script = textwrap.dedent(f"""
        import sys
        from invoke.main import program
        try:
            program.run(["inv", *{argv!r}], exit=False)
        finally:
            sys.stdout.flush()
            print("\\nMODULES " + " ".join(sorted(sys.modules)), file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("MODULES ")]
    assert line, done.stderr
    return set(line[-1].split()[1:])


@pytest.mark.parametrize("argv", [["--list"], ["up", "--help"], ["loadtest", "--help"], ["k8s.validate", "--help"],
                                  ["config.show", "--help"], ["cluster", "--help"]])
def test_listing_and_help_import_no_heavy_module(argv: list[str]) -> None:
    modules = _imported_after(argv)
    assert "tasks" in modules or "tooling.tasks.stack" in modules  # the collection really was loaded
    heavy = sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules))
    assert not heavy, f"`inv {' '.join(argv)}` imported {heavy}: import them inside the task that needs them"
