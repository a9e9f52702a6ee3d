"""The hook a store adapter implements to run the contract, and the fixture built on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import pytest_asyncio

from eskit.store import EventStoreBackend, TransactionalStore, require_transactions

__all__ = ["StoreUnderTest", "TransactionalStoreUnderTest"]


class StoreUnderTest:
    """Base of every contract class: ``make_store`` builds the store, ``store`` hands it out.

    Each test gets a store of its own on an event loop of its own, in pytest-asyncio's strict
    mode as well as in its auto mode.
    """

    pytestmark = [pytest.mark.asyncio(loop_scope="function")]

    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        """An open, migrated, empty store; closed when the context exits."""
        raise NotImplementedError

    @pytest_asyncio.fixture(loop_scope="function")
    async def store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AsyncIterator[EventStoreBackend]:
        """The store of ``make_store``, open for one test."""
        async with self.make_store(request, tmp_path) as store:
            yield store


class TransactionalStoreUnderTest(StoreUnderTest):
    """Base of the contracts of transactional stores: ``db`` is ``store`` as one."""

    @pytest_asyncio.fixture(loop_scope="function")
    async def db(self, store: EventStoreBackend) -> TransactionalStore:
        """The store under test as a :class:`~eskit.store.TransactionalStore`."""
        return require_transactions(store, "the unit-of-work and read-model contracts")
