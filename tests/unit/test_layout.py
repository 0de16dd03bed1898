"""The layout rules of tooling/ (README "Project layout"), read from the source with ast:

tasks (tasks.py, tooling/tasks/) → logic (the rest of tooling/) → adapters (tooling/cli/), never
back; the run() seam is imported one way and only inside tooling/cli/; docker, kind and
subprocesses only through tooling/cli/; no import cycles; no file over 400 lines.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLING = ROOT / "tooling"
MAX_LINES = 400
# Only tooling/cli/ drives external programs: these imports mean "runs a command".
COMMAND_MODULES = ("subprocess", "python_on_whales", "pytest_kind")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    found = {_module_name(p): p for p in TOOLING.rglob("*.py")}
    found["tasks"] = ROOT / "tasks.py"
    return found


def _imports(path: Path) -> Iterator[tuple[str, ast.ImportFrom | ast.Import]]:
    """Every module a file imports: `from a.b import c` yields a.b.c when that is a module, else a.b."""
    modules = _sources()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if candidate in modules else node.module), node


def _layer(module: str) -> str:
    if module == "tasks" or module.startswith("tooling.tasks"):
        return "tasks"
    if module.startswith("tooling.cli"):
        return "adapters"
    return "logic"


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_imports_point_from_tasks_to_logic_to_adapters_only() -> None:
    allowed = {"tasks": {"tasks", "logic", "adapters"}, "logic": {"logic", "adapters"}, "adapters": {"adapters"}}
    wrong = []
    for module, path in _sources().items():
        for imported, _node in _imports(path):
            if not (_is_within(imported, "tooling") or imported == "tasks"):
                continue
            target = "errors" if _is_within(imported, "tooling.errors") else _layer(imported)
            if target != "errors" and target not in allowed[_layer(module)]:
                wrong.append(f"{module} ({_layer(module)}) imports {imported} ({target})")
    assert not wrong, "\n".join(wrong)


def test_only_the_adapters_run_commands_and_the_seam_is_imported_one_way() -> None:
    wrong = []
    for module, path in _sources().items():
        for imported, node in _imports(path):
            if _layer(module) != "adapters" and any(_is_within(imported, m) for m in COMMAND_MODULES):
                wrong.append(f"{module} imports {imported}: drive it through an adapter in tooling/cli/")
            if imported == "tooling.cli.run":
                as_seam = (isinstance(node, ast.ImportFrom) and node.module == "tooling.cli"
                           and [(a.name, a.asname) for a in node.names] == [("run", "seam")])
                if _layer(module) != "adapters" or not as_seam:
                    wrong.append(f"{module} imports the seam; only tooling/cli/ may, as "
                                 "`from tooling.cli import run as seam`")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    sources = _sources()
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        # A package's __init__ re-exports its own submodules: that edge is not a cycle.
        graph[module] = {i for i, _node in _imports(path) if i in sources and i != module
                         and not _is_within(module, i)}
    cycles = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                cycles.append(" → ".join([*trail[trail.index(imported):], imported]))
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_no_tooling_file_is_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in [*TOOLING.rglob("*.py"), ROOT / "tasks.py"]
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these (one purpose per module): {long}"
