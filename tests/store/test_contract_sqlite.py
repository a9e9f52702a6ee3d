"""The whole store contract, unit of work and read models included, on the SQLite adapter."""

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend, SQLiteEventStore
from eskit.testing.contract import LogBrowserContract, TransactionalStoreContract

pytestmark = pytest.mark.integration


class TestSQLiteEventStore(TransactionalStoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return SQLiteEventStore.open(tmp_path / "events.db")


class TestSQLiteLogBrowser(LogBrowserContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return SQLiteEventStore.open(tmp_path / "events.db")
