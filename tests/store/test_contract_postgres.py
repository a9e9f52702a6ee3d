"""The whole store contract, unit of work and read models included, on the PostgreSQL
adapter: each test on a fresh database."""

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend
from eskit.testing.contract import LogBrowserContract, TransactionalStoreContract

pytestmark = pytest.mark.integration


class TestPostgresEventStore(TransactionalStoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        from eskit.store.postgres import PostgresEventStore

        return PostgresEventStore.open(request.getfixturevalue("postgres_url"))


class TestPostgresLogBrowser(LogBrowserContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        from eskit.store.postgres import PostgresEventStore

        return PostgresEventStore.open(request.getfixturevalue("postgres_url"))
