"""The store contract on the SQLite adapter."""

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend, SQLiteEventStore
from eskit.testing.contract import StoreContract

pytestmark = pytest.mark.integration


class TestSQLiteEventStore(StoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return SQLiteEventStore.open(tmp_path / "events.db")
