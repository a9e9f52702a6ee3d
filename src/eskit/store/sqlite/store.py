"""The embedded event store: one SQLite file in WAL mode.

SQLite lets one writer in at a time, so appends go through one writer thread with its own
connection (``BEGIN IMMEDIATE`` also serialises writers in other processes), and position
order is commit order. Reads run on a small pool of reader threads, which WAL lets proceed
while a write is in progress. Durable by default: ``synchronous=FULL`` fsyncs the WAL at
every commit; ``synchronous="NORMAL"`` trades the last commits before a power loss (never
corruption) for speed.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from eskit.domain.events import Event
from eskit.errors import ConfigurationError, StoreUnavailableError
from eskit.store.browsing import StreamTypeCount
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.encoding import EncodedEvent, encode_events, json_dumps
from eskit.store.expected import validate_expected_version
from eskit.store.migrations import migrations_in
from eskit.store.port import StoreCapabilities
from eskit.store.reading import DerivedReads
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedVersion,
    LogPage,
    LogSpan,
    Metadata,
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StoreSaturation,
    StreamInfo,
)
from eskit.store.sqlite import log, sql
from eskit.store.sqlite.session import SQLiteCommitted, SQLiteUnitOfWork
from eskit.store.sqlite.values import outcome_from_row, snapshot_from_row, timestamp
from eskit.store.sqlite.watcher import SQLiteChangeWatcher
from eskit.store.sqlite.writer import Discard, Handover, SQLiteWriter
from eskit.store.unit_of_work import UnitOfWork

__all__ = ["SQLiteEventStore"]

T = TypeVar("T")
Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

_HOLDING: contextvars.ContextVar[SQLiteUnitOfWork | None] = contextvars.ContextVar(
    "eskit_sqlite_unit_of_work", default=None
)
"""The unit of work this task holds the writer for, if any."""


class SQLiteEventStore(DerivedReads):
    """Event store and snapshot store in one SQLite file; read models, checkpoints and
    processed message ids live in the same file and commit with appends."""

    capabilities = StoreCapabilities(transactions=True, other_processes=True)

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        readers: int = 4,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout_s = busy_timeout_s
        self._writer: SQLiteWriter | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._readers = readers
        self._local = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self.appended = AppendSignal()
        """Fired after every append that commits through this object."""
        self._committed = SQLiteCommitted(self._read)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: str | Path, *, migrate: bool = True, **options: Any
    ) -> AsyncIterator[SQLiteEventStore]:
        """Open (creating if needed) the store at ``path``, migrated unless told otherwise."""
        store = cls(path, **options)
        await store.start(migrate=migrate)
        try:
            yield store
        finally:
            await store.close()

    async def start(self, *, migrate: bool = True) -> None:
        """Start the writer thread and reader pool; apply migrations if asked."""
        if self._writer is not None:
            return
        writer = SQLiteWriter(self._connect)
        await asyncio.to_thread(writer.start)
        self._writer = writer
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="eskit-sqlite")
        if migrate:
            await self.migrate()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self.busy_timeout_s,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailableError(f"cannot open SQLite store {self.path}: {exc}") from exc
        return conn

    async def close(self) -> None:
        """Finish queued writes, close connections and stop the threads. Idempotent."""
        writer, reader_pool = self._writer, self._reader_pool
        if writer is None or reader_pool is None:
            return
        self._writer = self._reader_pool = None
        await writer.stop()
        reader_pool.shutdown(wait=True)
        with self._connections_lock:
            for conn in self._reader_connections:
                conn.close()
            self._reader_connections.clear()

    async def __aenter__(self) -> SQLiteEventStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def commit_listener(self) -> CommitListener:
        """A watcher of the file's ``data_version``: fires ``appended`` on others' commits."""
        return SQLiteChangeWatcher(self.path, self.appended)

    # -- thread plumbing ---------------------------------------------------------------

    def _writer_thread(self) -> SQLiteWriter:
        holding = _HOLDING.get()
        if holding is not None and holding.open and holding.owner is self:
            raise ConfigurationError(
                "this task holds the SQLite writer in store.transaction(): write through "
                "the unit of work (tx.append, ...); the store itself would wait for it forever"
            )
        if self._writer is None:
            raise StoreUnavailableError("the SQLite store is closed")
        return self._writer

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader_pool is None:
            raise StoreUnavailableError("the SQLite store is closed")
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, lambda: fn(self._reader())
        )

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._connections_lock:
                self._reader_connections.append(conn)
        return conn

    # -- transactions ------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """See TransactionalStore.transaction: the writer thread lends its connection to
        this block, and every other write waits until it ends."""
        writer = self._writer_thread()
        handover = Handover(asyncio.get_running_loop())
        done = writer.submit(handover)
        done.add_done_callback(_retrieve)  # a rollback's error is raised from the block
        conn = await _lent(handover, done)
        unit = SQLiteUnitOfWork(conn, self)
        token = _HOLDING.set(unit)
        try:
            yield unit
        except BaseException as exc:
            unit.open = False
            handover.finish(exc)
            raise
        finally:
            unit.open = False
            _HOLDING.reset(token)
        handover.finish(None)
        await done
        if unit.last_position:
            self.appended.fire(unit.last_position)

    @property
    def committed(self) -> SQLiteCommitted:
        """See TransactionalStore.committed: read on reader threads."""
        return self._committed

    # -- schema ----------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations in one transaction each."""
        return await self._writer_thread().alone(_migrate)

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate the log.

        SQLite does this by itself every 1,000 pages; reads are faster from the main
        file, so call it after a bulk import.
        """
        await self._writer_thread().alone(
            lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        )

    # -- writing ---------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See EventStore.append."""
        validate_expected_version(expected_version)
        batch = encode_events(events, metadata)
        result = await self._writer_thread().transaction(
            lambda conn: _append(conn, stream_id, batch, expected_version, stream_type)
        )
        if not result.deduplicated:
            self.appended.fire(result.position)
        return result

    # -- reading ---------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_stream."""
        return await self._read(
            lambda c: log.read_stream(c, stream_id, from_version, to_version, until)
        )

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """See EventStore.read_payloads."""
        return await self._read(
            lambda c: log.payloads(c, stream_id, from_version, to_version, until)
        )

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_batch."""
        return await self._read(
            lambda c: log.read_batch(c, after, limit, stream_types, event_types)
        )

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogPage:
        """See EventStore.read_page: one trip to a reader thread."""
        return await self._read(lambda c: log.read_page(c, after, limit, stream_types, event_types))

    async def count_events(
        self,
        *,
        after: int,
        up_to: int,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogSpan:
        """See EventStore.count_events."""
        return await self._read(lambda c: log.count(c, after, up_to, stream_types, event_types))

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        return int(
            await self._read(lambda c: c.execute(sql.STREAM_VERSION, (stream_id,)).fetchone()[0])
        )

    async def last_position(self) -> int:
        """See EventStore.last_position."""
        return await self._read(log.head)

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams; ``after`` is the position of a stream's first event."""
        statement, params = sql.LIST_STREAMS, list[Any]([after])
        if stream_type:
            statement += " AND s.stream_type = ?"
            params.append(stream_type)
        statement += " ORDER BY s.position LIMIT ?"
        params.append(limit)
        rows = await self._read(lambda c: c.execute(statement, params).fetchall())
        return [_stream_info(r) for r in rows]

    # -- browsing (eskit.store.browsing.LogBrowser) -------------------------------------

    async def stream_types(self) -> list[StreamTypeCount]:
        """See LogBrowser.stream_types."""
        rows = await self._read(lambda c: c.execute(sql.STREAM_TYPES).fetchall())
        return [StreamTypeCount(r[0], r[1]) for r in rows]

    async def latest_streams(
        self, *, stream_type: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[StreamInfo]:
        """See LogBrowser.latest_streams."""
        statement, params = sql.LATEST_STREAMS, list[Any]([_before(before)])
        if stream_type is not None:
            statement += " AND s.stream_type = ?"
            params.append(stream_type)
        statement += " ORDER BY s.position DESC LIMIT ?"
        params.append(limit)
        rows = await self._read(lambda c: c.execute(statement, params).fetchall())
        return [_stream_info(r) for r in rows]

    async def latest_events(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """See LogBrowser.latest_events."""
        params = (_before(before), limit)
        return await self._read(
            lambda c: [StoredEvent(*row) for row in c.execute(sql.LATEST_EVENTS, params)]
        )

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        return await self._read(lambda c: log.find(c, event_ids))

    async def read_horizon(self) -> ReadHorizon:
        """Committed SQLite writes are visible to readers at once: nothing holds them back."""
        return ReadHorizon(position=await self.last_position())

    def saturation(self) -> StoreSaturation:
        """The writer thread's queue (SQLite has no connection pool to wait for)."""
        writer = self._writer
        return StoreSaturation(write_queue=writer.queued if writer is not None else 0)

    # -- snapshots -------------------------------------------------------------------

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        row = (
            snapshot.stream_id,
            snapshot.stream_type,
            snapshot.version,
            snapshot.schema_version,
            json_dumps(snapshot.state),
            timestamp(snapshot.recorded_at or datetime.now(UTC)),
        )
        await self._writer_thread().transaction(lambda c: c.execute(sql.SAVE_SNAPSHOT, row))

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """See SnapshotStore.load_snapshot."""
        return await self._read(lambda c: _snapshot(c, stream_id))

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """See EventStoreBackend.read_since_snapshot: both reads in one trip to a reader."""

        def read(conn: sqlite3.Connection) -> tuple[Snapshot | None, list[EventPayload]]:
            snapshot = _snapshot(conn, stream_id)
            if snapshot is not None and snapshot.schema_version != schema_version:
                snapshot = None
            after = snapshot.version if snapshot else 0
            return snapshot, log.payloads(conn, stream_id, after + 1)

        return await self._read(read)

    # -- command outcomes ------------------------------------------------------------

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome."""
        row = (
            str(outcome.command_id),
            outcome.stream_id,
            outcome.version,
            outcome.position,
            outcome.fingerprint,
            timestamp(outcome.recorded_at or datetime.now(UTC)),
        )

        def record(conn: sqlite3.Connection) -> CommandOutcome:
            conn.execute(sql.RECORD_OUTCOME, row)
            return outcome_from_row(conn.execute(sql.FIND_OUTCOME, (row[0],)).fetchone())

        return await self._writer_thread().transaction(record)

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        row = await self._read(lambda c: c.execute(sql.FIND_OUTCOME, (str(command_id),)).fetchone())
        return None if row is None else outcome_from_row(row)


def _append(
    conn: sqlite3.Connection,
    stream_id: str,
    batch: list[EncodedEvent],
    expected: ExpectedVersion,
    stream_type: str,
) -> AppendResult:
    result = log.append(conn, stream_id, batch, expected, stream_type)
    if result.deduplicated:
        raise Discard(result)  # roll back whatever part of the batch got in
    return result


def _snapshot(conn: sqlite3.Connection, stream_id: str) -> Snapshot | None:
    row = conn.execute(sql.LOAD_SNAPSHOT, (stream_id,)).fetchone()
    return None if row is None else snapshot_from_row(row)


def _migrate(conn: sqlite3.Connection) -> list[str]:
    conn.execute(sql.CREATE_MIGRATIONS)
    done = {row[0] for row in conn.execute(sql.APPLIED_MIGRATIONS)}
    applied = []
    for migration in migrations_in("eskit.store.sqlite.migrations"):
        if migration.number in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                sql.RECORD_MIGRATION,
                (migration.number, migration.name, timestamp(datetime.now(UTC))),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.name)
    return applied


async def _lent(handover: Handover, done: asyncio.Future[None]) -> sqlite3.Connection:
    """The connection, once the writer lends it; what failed if the transaction could not
    begin (a busy file, a closed store)."""
    try:
        waits: set[asyncio.Future[Any]] = {handover.granted, done}
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        handover.granted.cancel()  # the writer rolls back when it comes to it
        raise
    if handover.granted.done():
        return handover.granted.result()
    handover.granted.cancel()
    done.result()  # raises why the writer could not begin
    raise StoreUnavailableError("the SQLite writer ended the transaction before it began")


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _before(before: int | None) -> int:
    """The keyset bound of a page newest first: no bound, the first page."""
    return (1 << 63) - 1 if before is None else before


def _stream_info(row: Any) -> StreamInfo:
    """A row of LIST_STREAMS or LATEST_STREAMS (id, type, created, first position, version,
    updated) as a StreamInfo."""
    return StreamInfo(
        row[0],
        row[1],
        row[4],
        datetime.fromisoformat(row[2]),
        datetime.fromisoformat(row[5]),
        row[3],
    )
