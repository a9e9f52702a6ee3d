"""The PostgreSQL unit of work, and committed reads of what it writes.

A :class:`PostgresUnitOfWork` holds one pooled connection inside a transaction; every
statement of it goes there. Several appends may share the transaction: each numbers its
events after those appended before it (positions are the transaction id, then an ordinal),
inside a savepoint, so a refused append leaves the rest of the work as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from eskit.domain.events import Event
from eskit.errors import ConcurrencyError
from eskit.store.encoding import MAX_EVENTS_PER_APPEND, EncodedEvent, encode_events
from eskit.store.expected import check_expected_version, validate_expected_version
from eskit.store.idempotency import original_outcome
from eskit.store.postgres import log, sql
from eskit.store.postgres.bookkeeping import (
    PostgresCheckpoints,
    PostgresDeadLetters,
    PostgresInbox,
)
from eskit.store.postgres.leases import PostgresLeases
from eskit.store.postgres.queue import PostgresQueue
from eskit.store.postgres.rows import (
    Executor,
    PostgresDocuments,
    PostgresRawSQL,
    PostgresSchema,
    PostgresSearch,
    PostgresTables,
)
from eskit.store.postgres.sagas import PostgresSagas
from eskit.store.records import (
    AppendResult,
    ExpectedState,
    ExpectedVersion,
    LogPage,
    Metadata,
    NewEvent,
    StoredEvent,
)

__all__ = ["ConnectionExecutor", "PoolExecutor", "PostgresCommitted", "PostgresUnitOfWork"]

Connection = psycopg.AsyncConnection[Any]
_ANY_RETRIES = 50
_UNCHECKED = (ExpectedState.ANY, ExpectedState.STREAM_EXISTS)


class ConnectionExecutor:
    """Statements on one connection (inside the transaction it is in), through ``cursor``
    (one of the connection's, kept for it) when given."""

    def __init__(self, conn: Connection, cursor: psycopg.AsyncCursor[Any] | None = None) -> None:
        self.conn = conn
        self._cursor = cursor or conn.cursor()

    async def fetch(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """See Executor.fetch."""
        cur = self._cursor
        await cur.execute(statement, params)
        return await cur.fetchall()

    async def execute(self, statement: str, params: Any = None) -> int:
        """See Executor.execute."""
        cur = self._cursor
        await cur.execute(statement, params)
        return int(cur.rowcount)

    async def executemany(self, statement: str, rows: Sequence[Any]) -> int:
        """See Executor.executemany."""
        if not rows:
            return 0
        async with self.conn.cursor() as cur:
            await cur.executemany(statement, rows)
            return int(cur.rowcount)


class PoolExecutor:
    """Statements on pooled autocommit connections (committed reads)."""

    def __init__(
        self,
        fetch: Callable[[str, Any], Awaitable[list[tuple[Any, ...]]]],
        connection: Callable[[], AbstractAsyncContextManager[Connection]],
    ) -> None:
        self._fetch = fetch
        self._connection = connection

    async def fetch(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """See Executor.fetch (retried on a fresh connection if the pooled one died)."""
        return await self._fetch(statement, params)

    async def execute(self, statement: str, params: Any = None) -> int:
        """See Executor.execute (autocommit)."""
        async with self._connection() as conn:
            return await ConnectionExecutor(conn).execute(statement, params)

    async def executemany(self, statement: str, rows: Sequence[Any]) -> int:
        """See Executor.executemany (autocommit, one statement per row)."""
        async with self._connection() as conn:
            return await ConnectionExecutor(conn).executemany(statement, rows)


class _Parts:
    """Read models and bookkeeping over one executor."""

    def __init__(self, run: Executor) -> None:
        self.tables = PostgresTables(run)
        self.documents = PostgresDocuments(run)
        self.search = PostgresSearch(run)
        self.schema = PostgresSchema(run)
        self.checkpoints = PostgresCheckpoints(run)
        self.dead_letters = PostgresDeadLetters(run)
        self.sql = PostgresRawSQL(run)
        self.queue = PostgresQueue(run)
        self.sagas = PostgresSagas(run)
        self.leases = PostgresLeases(run)


class PostgresCommitted(_Parts):
    """See ``eskit.store.unit_of_work.CommittedRows``: read on pooled connections."""

    def __init__(self, run: Executor) -> None:
        super().__init__(run)
        self.inbox = PostgresInbox(run)


class PostgresUnitOfWork(_Parts):
    """See ``eskit.store.unit_of_work.UnitOfWork``."""

    def __init__(self, conn: Connection, cursor: psycopg.AsyncCursor[Any] | None = None) -> None:
        self._conn = conn
        self._run = ConnectionExecutor(conn, cursor)
        self.last_position = 0
        """The position of the last event appended (0: none), to wake readers after commit."""
        self._events = 0
        super().__init__(self._run)

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See UnitOfWork.append."""
        validate_expected_version(expected_version)
        batch = encode_events(events, metadata)
        if self._events + len(batch) > MAX_EVENTS_PER_APPEND:
            raise ValueError(
                f"a transaction holds at most {MAX_EVENTS_PER_APPEND} events, "
                f"this one would hold {self._events + len(batch)}"
            )
        if not batch:
            version = await log.stream_version(self._run, stream_id)
            check_expected_version(stream_id, expected_version, version)
            rows = await self._run.fetch(sql.LAST_OF_STREAM, (stream_id,))
            return AppendResult(stream_id, version, rows[0][1] if rows else 0)
        result = await self._append(stream_id, batch, expected_version, stream_type)
        if not result.deduplicated:
            self._events += len(batch)
            self.last_position = max(self.last_position, result.position)
        return result

    async def _append(
        self,
        stream_id: str,
        batch: list[EncodedEvent],
        expected: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        statement = sql.append_statement(len(batch) > 1, expected)
        params = log.append_params(stream_id, batch, expected, stream_type, self._events)
        if expected in _UNCHECKED:
            # writers that promise no version would otherwise race for the next one, each
            # loser retrying after a winner's commit, for as long as its transaction lasts:
            # take turns instead (a lock held to the end of the transaction)
            await self._run.fetch(sql.LOCK_STREAM, (stream_id,))
        for _ in range(_ANY_RETRIES):
            try:
                async with self._conn.transaction():  # a savepoint: a clash leaves the rest
                    rows = await self._run.fetch(statement, params)
                break
            except pg_errors.UniqueViolation as exc:
                if exc.diag.constraint_name == sql.STREAM_VERSION_KEY and expected in _UNCHECKED:
                    continue  # no version was promised: take the next one
                outcome = original_outcome(stream_id, batch, await self._find(batch))
                if outcome is not None:
                    return outcome
                raise ConcurrencyError(stream_id, expected) from exc
        else:
            raise ConcurrencyError(stream_id, expected)
        if rows:
            position, version = max(rows)
            return AppendResult(stream_id, version, position)
        # the version check refused: a retry of a finished append, or a real conflict
        outcome = original_outcome(stream_id, batch, await self._find(batch))
        if outcome is not None:
            return outcome
        current = await log.stream_version(self._run, stream_id)
        raise ConcurrencyError(stream_id, expected, current)

    async def _find(self, batch: list[EncodedEvent]) -> list[StoredEvent]:
        return await log.find(self._run, [e.event_id for e in batch])

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
        visible_only: bool = True,
    ) -> LogPage:
        """See UnitOfWork.read_page."""
        return await log.read_page(
            self._run, after, limit, stream_types, event_types, visible_only=visible_only
        )

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """See UnitOfWork.read_stream."""
        return await log.read_stream(self._run, stream_id, from_version, to_version)

    async def record_processed(self, consumer: str, message_ids: Sequence[str]) -> list[str]:
        """See UnitOfWork.record_processed: one statement for the whole batch."""
        wanted = list(dict.fromkeys(message_ids))
        if not wanted:
            return []
        rows = await self._run.fetch(sql.RECORD_PROCESSED, (consumer, wanted))
        new = {row[0] for row in rows}
        return [message_id for message_id in wanted if message_id in new]

    async def stream_versions(self, consumer: str, stream_ids: Collection[str]) -> dict[str, int]:
        """See UnitOfWork.stream_versions."""
        if not stream_ids:
            return {}
        rows = await self._run.fetch(sql.CONSUMER_STREAM_VERSIONS, (consumer, list(stream_ids)))
        return {row[0]: row[1] for row in rows}

    async def record_stream_versions(self, consumer: str, versions: Mapping[str, int]) -> None:
        """See UnitOfWork.record_stream_versions: one statement for the whole batch."""
        if versions:
            await self._run.execute(
                sql.RECORD_CONSUMER_STREAM_VERSIONS,
                (consumer, list(versions), list(versions.values())),
            )
