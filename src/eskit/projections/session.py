"""One transaction on the database that holds the read models, seen the same on every backend.

Projection handlers are ``async`` so that they can read the read model while they update
it. On PostgreSQL a session is a psycopg connection inside a transaction. On SQLite it is the
writer thread's connection: there the session's methods complete without suspending, and
the handlers of a batch are driven to completion inside the writer thread, inside the same
transaction as the checkpoint (see :func:`drive`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar

from eskit.errors import ConfigurationError

__all__ = ["Dialect", "Params", "PostgresSession", "SQLiteSession", "Session", "drive"]

T = TypeVar("T")
Dialect = Literal["sqlite", "postgres"]
Params = Sequence[Any] | Mapping[str, Any]


class Session(Protocol):
    """A transaction on the read-model database. SQL uses the backend's own placeholders:
    ``?`` on SQLite, ``%s`` on PostgreSQL (``session.mark`` holds the right one)."""

    dialect: Dialect
    mark: str

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Rows of a query run inside the transaction."""
        ...

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        """Run one statement per row of parameters; returns the rows changed in all."""
        ...


class SQLiteSession:
    """A session on the SQLite writer connection; nothing here suspends."""

    dialect: Dialect = "sqlite"
    mark = "?"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """See Session.fetch."""
        return self.conn.execute(sql, params).fetchall()

    async def execute(self, sql: str, params: Params = ()) -> int:
        """See Session.execute."""
        return self.conn.execute(sql, params).rowcount

    async def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        """See Session.executemany."""
        if not rows:
            return 0
        return self.conn.executemany(sql, rows).rowcount


class PostgresSession:
    """A session on a psycopg connection that is inside a transaction."""

    dialect: Dialect = "postgres"
    mark = "%s"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """See Session.fetch."""
        cur = await self.conn.execute(sql, params or None)
        rows: list[tuple[Any, ...]] = await cur.fetchall()
        return rows

    async def execute(self, sql: str, params: Params = ()) -> int:
        """See Session.execute."""
        cur = await self.conn.execute(sql, params or None)
        return int(cur.rowcount)

    async def executemany(self, sql: str, rows: Sequence[Params]) -> int:
        """See Session.executemany."""
        if not rows:
            return 0
        async with self.conn.cursor() as cur:
            await cur.executemany(sql, rows)
            return int(cur.rowcount)


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, synchronously.

    Handlers that only await their session (on SQLite, whose session never suspends) finish
    in one step. One that awaits anything else (a sleep, a network call) cannot run inside
    the SQLite writer thread and is refused with a clear error.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise ConfigurationError(
        "a projection handler on SQLite awaited something other than its read model; "
        "handlers run inside the write transaction and may only await the session"
    )
