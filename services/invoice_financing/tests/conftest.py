"""Fixtures of the service's tests: a real SQLite store, and the five command handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eskit.store import SQLiteEventStore
from invoice_financing.financing import FinancingHandlers, build_financing_handlers
from invoice_financing.registering import RegisteringHandlers, build_registering_handlers

pytest_plugins = ["eskit.testing.fixtures", "eskit.testing.bus_fixtures"]


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteEventStore]:
    """An event store in a SQLite file of the test's own."""
    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        yield store


@pytest.fixture
def financing(sqlite_store: SQLiteEventStore) -> FinancingHandlers:
    """Financing's handlers over the test's store."""
    return build_financing_handlers(sqlite_store)


@pytest.fixture
def registering(sqlite_store: SQLiteEventStore) -> RegisteringHandlers:
    """Registering's handlers over the test's store."""
    return build_registering_handlers(sqlite_store)
