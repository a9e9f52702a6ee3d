"""The service reads top to bottom: its dependencies point one way, with no import loop
(lazy imports inside functions count too)."""

from __future__ import annotations

import pytest

import bank_accounts
from eskit.testing.imports import import_loops, package_modules

pytestmark = pytest.mark.unit


def test_no_module_imports_itself_back_through_others() -> None:
    loops = import_loops(package_modules(bank_accounts))
    assert not loops, "import loops:\n" + "\n".join(" -> ".join(loop) for loop in loops)
