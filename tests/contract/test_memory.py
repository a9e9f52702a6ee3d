"""The store contract on the in-memory adapter."""

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend, InMemoryEventStore
from eskit.testing.contract import StoreContract

pytestmark = pytest.mark.integration


class TestInMemoryEventStore(StoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return InMemoryEventStore()
