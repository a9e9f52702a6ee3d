"""Shared fixtures: a real PostgreSQL for the session, a fresh database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend, InMemoryEventStore, SQLiteEventStore
from eskit.testing.postgres import PostgresServer

pytest_plugins = ["pytester"]


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


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStoreBackend]:
    """The same tests against every adapter."""
    if request.param == "memory":
        yield InMemoryEventStore()
    elif request.param == "sqlite":
        async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite_store:
            yield sqlite_store
    else:
        from eskit.store.postgres import PostgresEventStore

        url = request.getfixturevalue("postgres_url")
        async with PostgresEventStore.open(url) as pg_store:
            yield pg_store


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[EventStoreBackend]:
    """The stores that hold read models beside their events: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite_store:
            yield sqlite_store
    else:
        from eskit.store.postgres import PostgresEventStore

        url = request.getfixturevalue("postgres_url")
        async with PostgresEventStore.open(url) as pg_store:
            yield pg_store
