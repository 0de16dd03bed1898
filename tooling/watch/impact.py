"""What a saved file means for the running stack.

- Python under services/stackyard/: restart the components that import it, directly or through
  other modules (read from the source with ast; a component's own package is where it starts,
  `python -m stackyard <component>` imports nothing else of another component).
- A file the services read at run time (the schema .sql files): the components that name it.
- A config file compose bind-mounts (the edge's nginx.conf): restart that service.
- services/pyproject.toml or anything else under deploy/docker/: rebuild the images it goes into.
- envs/: re-render the config and let compose recreate what it changes.
"""

import ast
from dataclasses import dataclass, field
from pathlib import Path

from stackyard import COMPONENTS

PACKAGE = "services/stackyard"
REBUILD_PATHS = ("services/pyproject.toml", "deploy/docker/")
# Files docker-compose.yml bind-mounts into a service: a restart reads them, no image holds them.
MOUNTED = {"deploy/docker/edge/nginx.conf": "edge"}
RECONFIGURE_PATHS = ("envs/",)


@dataclass
class Impact:
    restart: set[str] = field(default_factory=set)
    rebuild: list[str] = field(default_factory=list)
    reconfigure: list[str] = field(default_factory=list)
    python: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _module(relative: str) -> str:
    parts = Path(relative).relative_to("services").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "stackyard" or name.startswith("stackyard.")}


def import_graph(root: Path) -> dict[str, set[str]]:
    """module → the stackyard modules it imports (only those that exist), from services/stackyard/."""
    sources = {_module(p.relative_to(root).as_posix()): p for p in (root / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        try:
            imported = _imports(path.read_text(), module)
        except SyntaxError:  # reported by the loop; its imports are unknown until it parses
            imported = set()
        graph[module] = {name for name in imported if name in sources} | {"stackyard"}
    return graph


def modules_of(graph: dict[str, set[str]], component: str) -> set[str]:
    """Every module `python -m stackyard <component>` can import."""
    start = [m for m in graph if m == f"stackyard.{component}" or m.startswith(f"stackyard.{component}.")]
    seen = set(start) | {"stackyard", "stackyard.__main__"}
    todo = [*seen]
    while todo:
        for imported in graph.get(todo.pop(), set()):
            if imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def classify(root: Path, changed: list[str]) -> Impact:
    impact = Impact()
    graph: dict[str, set[str]] | None = None
    for path in changed:
        if path in MOUNTED:
            impact.restart.add(MOUNTED[path])
        elif path.startswith(REBUILD_PATHS):
            impact.rebuild.append(path)
        elif path.startswith(RECONFIGURE_PATHS):
            impact.reconfigure.append(path)
        elif path.startswith(PACKAGE + "/") and path.endswith(".py"):
            graph = graph if graph is not None else import_graph(root)
            impact.python.append(path)
            module = _module(path)
            if module == "stackyard.probe":  # the healthcheck runs it anew each time: live already
                continue
            impact.restart |= {c for c in COMPONENTS if module in modules_of(graph, c)}
        elif path.startswith(PACKAGE + "/"):
            name = Path(path).name
            users = {c for c in COMPONENTS if _names_file(root, c, name)}
            impact.restart |= users
            if not users:
                impact.ignored.append(path)
        else:
            impact.ignored.append(path)
    return impact


def _names_file(root: Path, component: str, name: str) -> bool:
    graph = import_graph(root)
    for module in modules_of(graph, component):
        relative = root / "services" / Path(*module.split("."))
        for candidate in (relative.with_suffix(".py"), relative / "__init__.py"):
            if candidate.exists() and name in candidate.read_text():
                return True
    return False
