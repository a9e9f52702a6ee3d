"""The store contract on the in-memory adapter."""

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from eskit.errors import ConfigurationError
from eskit.store import (
    EventStoreBackend,
    InMemoryEventStore,
    has_transactions,
    require_transactions,
)
from eskit.testing.contract import LogBrowserContract, StoreContract

pytestmark = pytest.mark.integration


class TestInMemoryEventStore(StoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return InMemoryEventStore()


class TestInMemoryLogBrowser(LogBrowserContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return InMemoryEventStore()


async def test_the_memory_store_says_it_has_no_transactions() -> None:
    store = InMemoryEventStore()

    assert not has_transactions(store)
    with pytest.raises(ConfigurationError, match="read models need a store"):
        require_transactions(store, "read models")
