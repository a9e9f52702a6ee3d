"""A package's imports read from its source, for tests that keep its layers apart.

A lazy import inside a function counts as much as one at the top of a module: the source
is read, not what Python happened to import. eskit checks its own tree with these; a
service can check its own the same way::

    def test_no_import_loops() -> None:
        assert import_loops(package_modules(my_service)) == []
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

__all__ = ["import_graph", "import_loops", "imported", "package_modules"]


def package_modules(package: ModuleType) -> dict[str, ast.Module]:
    """Every module of ``package`` (its ``__init__`` too), by dotted name, parsed."""
    if package.__file__ is None:
        raise ValueError(f"{package.__name__} has no source on disk")
    root = Path(package.__file__).parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def imported(name: str, tree: ast.Module, packages: set[str]) -> Iterator[str]:
    """Every module the module ``name`` imports, wherever the import statement is.

    ``packages`` are the names that are packages (to resolve relative imports); for
    ``from package import name`` both ``package`` and ``package.name`` are given.
    """
    package = name if name in packages else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            for alias in node.names:  # ``from package import module``
                yield f"{base}.{alias.name}"


def import_graph(modules: Mapping[str, ast.Module]) -> dict[str, set[str]]:
    """Which of ``modules`` each of them imports (itself left out)."""
    packages = {name for name, tree in modules.items() if _is_package(name, modules)}
    return {
        name: {
            other for other in imported(name, tree, packages) if other in modules and other != name
        }
        for name, tree in modules.items()
    }


def import_loops(modules: Mapping[str, ast.Module]) -> list[list[str]]:
    """The import loops among ``modules``, each as the chain of names that closes it.

    A package importing its own modules (to re-export them) is how packages work, not a
    loop, and is left out.
    """
    packages = {name for name in modules if _is_package(name, modules)}
    edges = {
        name: {o for o in others if not (name in packages and o.startswith(name + "."))}
        for name, others in import_graph(modules).items()
    }
    loops: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for other in sorted(edges[node]):
            if state.get(other) == 1:
                loops.append([*path[path.index(other) :], other])
            elif other not in state:
                visit(other, [*path, other])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    return loops


def _is_package(name: str, modules: Mapping[str, ast.Module]) -> bool:
    return any(other.startswith(name + ".") for other in modules)
