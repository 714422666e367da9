"""No import cycle in service/ and slack_app/, lazy imports included.

import-linter's contracts hold the walls between rooms; this holds the modules themselves to a
graph without cycles. Every ``import`` counts wherever it is written: at the top, in a function
(a lazy import), or under ``TYPE_CHECKING``; importing ``a.b.c`` also runs the packages ``a`` and
``a.b``, so an edge goes to each of those the importer is not already inside.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("service", "slack_app")
IMPORT_ROOT = "recovery_ops"  # the folders install as recovery_ops.service and recovery_ops.slack_app


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the packages, by the dotted name it is imported as (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = [IMPORT_ROOT, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _imported_names(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The dotted names an import statement may load: the module, or each ``from`` name in it."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``modules`` it imports, at any depth of its code."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for imported in _imported_names(name, path.name == "__init__.py", node):
                parts = imported.split(".")
                for depth in range(1, len(parts) + 1):  # the module and the packages it runs first
                    target = ".".join(parts[:depth])
                    if target in modules and target != name and target not in own_packages:
                        graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each one sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # iterative: a deep chain of imports must not hit the recursion limit
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    members = set(component)
    return "\n".join(f"  {name} -> {', '.join(sorted(graph[name] & members))}" for name in component)


def test_no_module_of_service_or_slack_app_imports_itself_through_others() -> None:
    # Given every import written in service/ and slack_app/, lazy ones included
    graph = import_graph(module_files())

    # When the graph is searched for cycles
    found = cycles(graph)

    # Then there is none
    assert not found, "import cycles:\n" + "\n\n".join(_describe(c, graph) for c in found)


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return module_files(root)


@pytest.mark.parametrize(
    "import_in_b",
    [
        "from recovery_ops.service.a import thing\n",
        "def later():\n    from recovery_ops.service import a\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
    ],
    ids=["top-level", "lazy", "type-checking"],
)
def test_a_cycle_is_found_however_its_import_is_written(tmp_path: Path, import_in_b: str) -> None:
    # Given two modules that import each other, one of them in the way of the case
    modules = _write(
        tmp_path,
        {
            "service/__init__.py": "",
            "service/a.py": "import recovery_ops.service.b\n",
            "service/b.py": import_in_b,
            "slack_app/__init__.py": "",
        },
    )

    # When the graph is searched
    found = cycles(import_graph(modules))

    # Then the two are a cycle
    assert found == [["recovery_ops.service.a", "recovery_ops.service.b"]]


def test_a_package_whose_init_imports_its_importer_is_a_cycle(tmp_path: Path) -> None:
    # Given a package whose __init__ imports a module that imports one of the package's modules
    modules = _write(
        tmp_path,
        {
            "service/__init__.py": "",
            "service/room/__init__.py": "from recovery_ops.service.hall import door\n",
            "service/room/chair.py": "",
            "service/hall.py": "from recovery_ops.service.room.chair import seat\ndoor = 1\n",
            "slack_app/__init__.py": "",
        },
    )

    # When the graph is searched
    found = cycles(import_graph(modules))

    # Then the package and the module are a cycle (importing room.chair runs room/__init__ first)
    assert found == [["recovery_ops.service.hall", "recovery_ops.service.room"]]


def test_a_module_importing_a_sibling_through_its_own_package_is_no_cycle(tmp_path: Path) -> None:
    # Given a package whose __init__ imports its modules lazily, and modules importing their siblings
    modules = _write(
        tmp_path,
        {
            "service/__init__.py": "",
            "service/cli/__init__.py": "def main():\n    from recovery_ops.service.cli.parser import build\n",
            "service/cli/parser.py": "from recovery_ops.service.cli import groups\n",
            "service/cli/groups.py": "",
            "slack_app/__init__.py": "",
        },
    )

    # When the graph is searched
    found = cycles(import_graph(modules))

    # Then there is none: a module's own packages are always initialised before it runs
    assert found == []
