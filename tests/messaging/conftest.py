"""Fixtures of the messaging tests."""

from __future__ import annotations

import pytest

from eskit.store import EventStoreBackend, TransactionalStore, require_transactions
from tests.messaging.support import TOTALS


@pytest.fixture
async def db(sql_store: EventStoreBackend) -> TransactionalStore:
    """The SQL store under test, with the counting consumers' read model created."""
    store = require_transactions(sql_store, "consumers")
    async with store.transaction() as tx:
        await tx.documents.create(TOTALS)
    return store
