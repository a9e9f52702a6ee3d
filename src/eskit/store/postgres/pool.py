"""A small LIFO pool of autocommit PostgreSQL connections for the event store.

Why not ``psycopg_pool``: its bookkeeping (locks, stats, background workers) measured at
about a tenth of the time of a one-event append here, and the store needs none of it. Every
statement the store sends is one autocommit round trip, so a connection comes back idle or
broken, never mid-transaction. This pool hands out the most recently used connection (warm
caches, prepared statements), opens new ones on demand up to ``max_size``, drops broken or
expired ones, and makes callers wait (bounded) when all are busy.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from eskit.errors import StoreUnavailableError

__all__ = ["ConnectionPool"]

Connection = psycopg.AsyncConnection[Any]


class ConnectionPool:
    """Autocommit connections to one database, at most ``max_size`` at a time."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 16,
        connect_timeout_s: float = 10.0,
        acquire_timeout_s: float = 30.0,
        max_lifetime_s: float = 3600.0,
        configure: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> None:
        if not 0 <= min_size <= max_size or max_size < 1:
            raise ValueError("need 0 <= min_size <= max_size and max_size >= 1")
        self.conninfo = conninfo
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout_s = connect_timeout_s
        self.acquire_timeout_s = acquire_timeout_s
        self.max_lifetime_s = max_lifetime_s
        self._configure = configure
        self._idle: deque[tuple[Connection, float]] = deque()
        self._waiters: deque[asyncio.Future[tuple[Connection, float]]] = deque()
        self._size = 0  # open connections, idle or lent
        self._closed = False
        self._cursors: dict[int, psycopg.AsyncCursor[Any]] = {}

    async def open(self) -> None:
        """Open ``min_size`` connections; raises StoreUnavailableError if the first fails."""
        for _ in range(self.min_size):
            self._size += 1
            try:
                self._idle.append(await self._connect())
            except BaseException:
                self._size -= 1
                raise

    async def close(self) -> None:
        """Close idle connections now, and lent ones as they come back."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(StoreUnavailableError("the connection pool closed"))
        while self._idle:
            conn, _ = self._idle.pop()
            self._size -= 1
            await self._close(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """Lend a connection for one or more autocommit statements."""
        conn, born = await self.acquire()
        try:
            yield conn
        finally:
            await self.release(conn, born)

    async def _connect(self) -> tuple[Connection, float]:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, connect_timeout=max(1, int(self.connect_timeout_s))
            )
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"cannot connect to PostgreSQL: {exc}") from exc
        if self._configure is not None:
            await self._configure(conn)
        self._cursors[id(conn)] = conn.cursor()
        return conn, time.monotonic()

    def cursor(self, conn: Connection) -> psycopg.AsyncCursor[Any]:
        """The cursor kept with ``conn``: a statement on it skips making a cursor (and its
        map of adapters) every time, as ``conn.execute`` does."""
        return self._cursors[id(conn)]

    async def _close(self, conn: Connection) -> None:
        self._cursors.pop(id(conn), None)
        await conn.close()

    async def acquire(self) -> tuple[Connection, float]:
        """A connection and its birth time; give both back to :meth:`release`."""
        if self._closed:
            raise StoreUnavailableError("the connection pool is closed")
        while self._idle:
            conn, born = self._idle.pop()
            if not conn.closed:
                return conn, born
            self._size -= 1
        if self._size < self.max_size:
            self._size += 1
            try:
                return await self._connect()
            except BaseException:
                self._size -= 1
                raise
        waiter: asyncio.Future[tuple[Connection, float]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter, self.acquire_timeout_s)
        except TimeoutError as exc:
            raise StoreUnavailableError(
                f"no PostgreSQL connection free within {self.acquire_timeout_s} s "
                f"({self.max_size} in use)"
            ) from exc

    async def release(self, conn: Connection, born: float) -> None:
        """Take a connection back; a broken or expired one is closed and replaced on demand."""
        healthy = (
            not self._closed
            and not conn.closed
            and conn.info.transaction_status == TransactionStatus.IDLE
            and time.monotonic() - born < self.max_lifetime_s
        )
        if not healthy:
            self._size -= 1
            await self._close(conn)
            await self._serve_waiter_with_new_connection()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a waiter that timed out has gone
                waiter.set_result((conn, born))
                return
        self._idle.append((conn, born))

    async def _serve_waiter_with_new_connection(self) -> None:
        while self._waiters and not self._closed:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._size += 1
            try:
                fresh = await self._connect()
            except Exception as exc:
                self._size -= 1
                if not waiter.done():
                    waiter.set_exception(exc)
                return
            if waiter.done():  # it gave up while we connected: keep the connection
                self._idle.append(fresh)
            else:
                waiter.set_result(fresh)
            return

    @property
    def size(self) -> int:
        """Connections open now, idle or lent."""
        return self._size

    @property
    def idle(self) -> int:
        """Connections waiting to be lent."""
        return len(self._idle)

    @property
    def waiting(self) -> int:
        """Callers waiting for a connection (all are lent and no more may be opened)."""
        return sum(not waiter.done() for waiter in self._waiters)
