"""The database that holds read models: the event store's own, so that a projection's
writes and its checkpoint commit in one transaction.

:func:`read_database` gives the adapter for a store. Both adapters offer the same three
things: a write transaction handed to a function, a committed read, and the store's
append signal (for waking subscriptions in this process).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from eskit.errors import ConfigurationError
from eskit.projections.session import (
    Dialect,
    Params,
    PostgresSession,
    Session,
    SQLiteSession,
    drive,
)
from eskit.store.port import EventStoreBackend
from eskit.store.signal import AppendSignal

__all__ = ["PostgresReadDatabase", "ReadDatabase", "SQLiteReadDatabase", "read_database"]

T = TypeVar("T")
Work = Callable[[Session], Coroutine[Any, Any, T]]


class ReadDatabase(Protocol):
    """Transactions and queries on the database of an event store."""

    dialect: Dialect
    store: EventStoreBackend
    signal: AppendSignal

    async def transaction(self, work: Work[T]) -> T:
        """Run ``work(session)`` in one transaction: committed if it returns, rolled back if it raises."""
        ...

    async def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query, outside any write transaction."""
        ...


class SQLiteReadDatabase:
    """Read models inside the SQLite event store file, written by its writer thread."""

    dialect: Dialect = "sqlite"

    def __init__(self, store: Any) -> None:
        self.store = store
        self.signal: AppendSignal = store.appended

    async def transaction(self, work: Work[T]) -> T:
        """See ReadDatabase.transaction; ``work`` runs in the writer thread (see ``drive``)."""
        result: T = await self.store.write(lambda conn: drive(work(SQLiteSession(conn))))
        return result

    async def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """See ReadDatabase.query."""
        rows: list[tuple[Any, ...]] = await self.store.read(
            lambda conn: conn.execute(sql, params).fetchall()
        )
        return rows


class PostgresReadDatabase:
    """Read models in the PostgreSQL event store's database."""

    dialect: Dialect = "postgres"

    def __init__(self, store: Any) -> None:
        self.store = store
        self.signal: AppendSignal = store.appended

    async def transaction(self, work: Work[T]) -> T:
        """See ReadDatabase.transaction."""
        async with self.store.connection() as conn, conn.transaction():
            return await work(PostgresSession(conn))

    async def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """See ReadDatabase.query."""
        rows: list[tuple[Any, ...]] = await self.store.fetch(sql, params or None)
        return rows


def read_database(store: EventStoreBackend) -> ReadDatabase:
    """The read-model database of ``store`` (SQLite or PostgreSQL, or a wrapper of one)."""
    from eskit.projections.inline import InlineProjections
    from eskit.store.sqlite import SQLiteEventStore

    if isinstance(store, InlineProjections):
        return store.db
    if isinstance(store, SQLiteEventStore):
        return SQLiteReadDatabase(store)
    try:
        from eskit.store.postgres import PostgresEventStore
    except ImportError:  # pragma: no cover - depends on the install
        PostgresEventStore = None  # type: ignore[assignment,misc]  # noqa: N806
    if PostgresEventStore is not None and isinstance(store, PostgresEventStore):
        return PostgresReadDatabase(store)
    raise ConfigurationError(
        f"read models need a SQLite or PostgreSQL store, not {type(store).__name__}"
    )
