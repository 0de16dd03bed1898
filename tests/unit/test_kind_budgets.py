"""The kind end-to-end tests' pytest-timeout limits cover the module fixture that builds the cluster.

pytest-timeout 2.4.0 (pytest_timeout.py: pytest_runtest_protocol sets the timer around setup, call
and teardown unless func_only) charges a module fixture's setup to the first test that needs it and
its teardown to the last: so every kind test's limit must hold the fixture's subprocess budgets
(`inv cluster`, `inv cluster.down`, and the preflight's pulls) plus the test's own subprocesses.
Before the fix no test had a marker, so the ini's 900 s applied against a 1800 s `inv cluster`.
"""

import ast
import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
KIND_TESTS = ROOT / "tests" / "e2e" / "test_kind.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kind_e2e_for_budgets", KIND_TESTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _subprocess_seconds(function: ast.FunctionDef, module: ModuleType) -> float:
    """The `timeout=` of every `inv(...)` call in a function: the subprocesses it may wait for."""
    total = 0.0
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "inv":
            for keyword in node.keywords:
                if keyword.arg == "timeout":
                    total += float(eval(compile(ast.Expression(keyword.value), str(KIND_TESTS), "eval"),
                                        vars(module)))
    return total


def _limit(function: Any, ini: dict[str, Any]) -> tuple[float, bool]:
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "timeout"]
    if not marks:
        return float(ini["timeout"]), bool(ini.get("timeout_func_only", False))
    mark = marks[0]
    seconds = mark.args[0] if mark.args else mark.kwargs["timeout"]
    return float(seconds), bool(mark.kwargs.get("func_only", ini.get("timeout_func_only", False)))


def test_every_kind_test_limit_covers_the_cluster_fixture_and_its_own_work() -> None:
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    module = _module()
    tree = ast.parse(KIND_TESTS.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    fixture = _subprocess_seconds(functions["kind"], module) + float(getattr(module, "PREFLIGHT_SECONDS", 0))
    assert fixture >= 1800 + 300, "the fixture's `inv cluster` and `inv cluster.down` budgets were not found"
    tests = [name for name in functions if name.startswith("test_")]
    assert len(tests) >= 4
    for name in tests:
        limit, func_only = _limit(getattr(module, name), ini)
        assert not func_only, f"{name}: func_only leaves the fixture's work without any limit"
        own = _subprocess_seconds(functions[name], module)
        assert limit >= fixture + own, (f"{name}: pytest-timeout {limit:.0f}s < fixture {fixture:.0f}s + own "
                                        f"{own:.0f}s — the cluster build would be cut mid-way")


def test_the_ci_kind_job_outlasts_every_kind_test_budget_together() -> None:
    """GitHub kills the whole job at timeout-minutes: it must hold the fixture and every test."""
    import yaml

    module = _module()
    tree = ast.parse(KIND_TESTS.read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    fixture = _subprocess_seconds(functions["kind"], module) + float(module.PREFLIGHT_SECONDS)
    own = sum(_subprocess_seconds(f, module) for name, f in functions.items() if name.startswith("test_"))
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["kind"]
    assert job["timeout-minutes"] * 60 >= fixture + own + 300, (
        f"kind job {job['timeout-minutes']} min < fixture {fixture:.0f}s + tests {own:.0f}s + 5 min for the venv")
