"""The service reads top to bottom: no import loops, and each bounded context stands alone
(Registering and Financing import nothing of each other or of the service around them, but
the published language between them)."""

from __future__ import annotations

import pytest

import invoice_financing
from eskit.testing.imports import import_graph, import_loops, package_modules

pytestmark = pytest.mark.unit

MODULES = package_modules(invoice_financing)
PUBLISHED = "invoice_financing.published"
"""The contract between the contexts: what Registering publishes, Financing reads."""


def test_no_module_imports_itself_back_through_others() -> None:
    loops = import_loops(MODULES)
    assert not loops, "import loops:\n" + "\n".join(" -> ".join(loop) for loop in loops)


@pytest.mark.parametrize("context", ["registering", "financing"])
def test_a_bounded_context_imports_only_itself_of_the_service(context: str) -> None:
    own = f"invoice_financing.{context}"
    graph = import_graph(MODULES)
    strays = {
        f"{name} imports {other}"
        for name, others in graph.items()
        if name == own or name.startswith(own + ".")
        for other in others
        if other != own and not other.startswith(own + ".") and other != PUBLISHED
    }
    assert not strays, "\n".join(sorted(strays))
    assert any(name.startswith(own + ".") for name in graph)
