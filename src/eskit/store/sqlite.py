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
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson

from eskit.domain.events import Event
from eskit.errors import ConcurrencyError, DuplicateEventError, StoreUnavailableError
from eskit.store.encoding import EncodedEvent, encode_events, json_dumps
from eskit.store.expected import check_expected_version, validate_expected_version
from eskit.store.idempotency import original_outcome
from eskit.store.migrations import migrations_for
from eskit.store.reading import read_in_batches, stream_query
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedVersion,
    Metadata,
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StreamInfo,
)
from eskit.store.signal import AppendSignal
from eskit.store.sqlite_writer import Discard, SQLiteWriter

__all__ = ["SQLiteEventStore", "event_from_row"]

T = TypeVar("T")
Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

_COLUMNS = (
    "position, stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at"
)


_PAYLOAD = "position, version, event_type, schema_version, data"
_INSERT = (
    "INSERT INTO eskit_events (stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _timestamp(moment: datetime) -> str:
    # fixed width, always with microseconds, always UTC: text order is time order
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_from_row(row: tuple[Any, ...]) -> StoredEvent:
    """A stored event from a row of the ten event columns, as SQLite gives them back."""
    return StoredEvent(
        row[0],
        row[1],
        row[2],
        row[3],
        uuid.UUID(row[4]),
        row[5],
        row[6],
        orjson.loads(row[7]),
        orjson.loads(row[8]),
        datetime.fromisoformat(row[9]),
    )


class SQLiteEventStore:
    """Event store and snapshot store in one SQLite file."""

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

    # -- thread plumbing ---------------------------------------------------------------

    def _writer_thread(self) -> SQLiteWriter:
        if self._writer is None:
            raise StoreUnavailableError("the SQLite store is closed")
        return self._writer

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader_pool is None:
            raise StoreUnavailableError("the SQLite store is closed")
        return await asyncio.get_running_loop().run_in_executor(
            self._reader_pool, lambda: fn(self._reader())
        )

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the writer thread, inside a write transaction (and savepoint).

        If ``fn`` raises, its writes are rolled back and the error reaches the caller; the
        caller hears of success only after COMMIT. Read models in this file use it, so that
        their writes and checkpoints commit together.
        """
        return await self._writer_thread().transaction(fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on a read-only connection in the reader pool."""
        return await self._read(fn)

    def append_within(
        self,
        conn: sqlite3.Connection,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> tuple[AppendResult, list[EncodedEvent]]:
        """Append inside a transaction that :meth:`write` opened; the caller commits.

        Returns the outcome and the encoded events (for inline projections). Raises like
        :meth:`append`; a deduplicated outcome wrote nothing.
        """
        validate_expected_version(expected_version)
        batch = encode_events(events, metadata)
        result = self._append_in_transaction(conn, stream_id, batch, expected_version, stream_type)
        return result, batch

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=1")
            self._local.conn = conn
            with self._connections_lock:
                self._reader_connections.append(conn)
        return conn

    # -- schema ----------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations in one transaction each."""
        return await self._writer_thread().alone(self._migrate)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> list[str]:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS eskit_migrations ("
            "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in conn.execute("SELECT number FROM eskit_migrations")}
        applied = []
        for migration in migrations_for("sqlite"):
            if migration.number in done:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO eskit_migrations VALUES (?, ?, ?)",
                    (migration.number, migration.name, _timestamp(datetime.now(UTC))),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(migration.name)
        return applied

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
            lambda conn: self._append(conn, stream_id, batch, expected_version, stream_type)
        )
        if not result.deduplicated:
            self.appended.fire(result.position)
        return result

    def _append(
        self,
        conn: sqlite3.Connection,
        stream_id: str,
        batch: list[EncodedEvent],
        expected: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        result = self._append_in_transaction(conn, stream_id, batch, expected, stream_type)
        if result.deduplicated:
            raise Discard(result)  # roll back whatever part of the batch got in
        return result

    def _append_in_transaction(
        self,
        conn: sqlite3.Connection,
        stream_id: str,
        batch: list[EncodedEvent],
        expected: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        # one index probe for the stream's last event, one for the log's end (rowid max)
        last = conn.execute(
            "SELECT version, position, stream_type FROM eskit_events WHERE stream_id = ? "
            "ORDER BY version DESC LIMIT 1",
            (stream_id,),
        ).fetchone()
        current, last_in_stream, known_type = last if last else (0, 0, None)
        try:
            check_expected_version(stream_id, expected, current)
        except ConcurrencyError:
            # a retry of an append that already succeeded reports its first outcome
            outcome = original_outcome(stream_id, batch, self._find(conn, batch))
            if outcome is None:
                raise
            return outcome
        if not batch:
            return AppendResult(stream_id, current, last_in_stream)
        now = _timestamp(datetime.now(UTC))
        kind = stream_type if known_type is None else known_type
        rows = [
            (
                stream_id,
                kind,
                current + i + 1,
                str(e.event_id),
                e.event_type,
                e.schema_version,
                e.data,
                e.metadata,
                now,
            )
            for i, e in enumerate(batch)
        ]
        # SQLite numbers the rows (max rowid + 1, under the write lock): no query needed
        try:
            if len(rows) == 1:
                last_position = conn.execute(_INSERT, rows[0]).lastrowid
            else:
                conn.executemany(_INSERT, rows)
                (last_position,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        except sqlite3.IntegrityError as exc:
            outcome = original_outcome(stream_id, batch, self._find(conn, batch))
            if outcome is None:
                raise DuplicateEventError("?", f"integrity error: {exc}") from exc
            return outcome
        assert last_position is not None
        return AppendResult(stream_id, current + len(batch), last_position)

    @staticmethod
    def _find(conn: sqlite3.Connection, batch: list[EncodedEvent]) -> list[StoredEvent]:
        if not batch:
            return []
        ids = [str(e.event_id) for e in batch]
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM eskit_events WHERE event_id IN ({marks})", ids
        ).fetchall()
        return [event_from_row(r) for r in rows]

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
        sql, params = stream_query(
            _COLUMNS, stream_id, from_version, to_version, until, mark="?", time_value=_timestamp
        )
        return await self._read(lambda c: [event_from_row(r) for r in c.execute(sql, params)])

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """See EventStore.read_payloads."""
        sql, params = stream_query(
            _PAYLOAD, stream_id, from_version, to_version, until, mark="?", time_value=_timestamp
        )
        return await self._read(lambda c: list(map(EventPayload._make, c.execute(sql, params))))

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_batch."""
        sql = f"SELECT {_COLUMNS} FROM eskit_events WHERE position > ?"
        params: list[Any] = [after]
        for column, values in (("stream_type", stream_types), ("event_type", event_types)):
            if values is not None:
                values = list(values)
                sql += f" AND {column} IN ({','.join('?' * len(values))})"
                params.extend(values)
        sql += " ORDER BY position LIMIT ?"
        params.append(limit)
        return await self._read(lambda c: [event_from_row(r) for r in c.execute(sql, params)])

    def read_all(
        self,
        *,
        after: int = 0,
        batch_size: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> AsyncIterator[StoredEvent]:
        """See EventStore.read_all."""
        return read_in_batches(
            self.read_batch,
            after=after,
            batch_size=batch_size,
            stream_types=stream_types,
            event_types=event_types,
        )

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        sql = "SELECT coalesce(max(version), 0) FROM eskit_events WHERE stream_id = ?"
        return int(await self._read(lambda c: c.execute(sql, (stream_id,)).fetchone()[0]))

    async def stream_exists(self, stream_id: str) -> bool:
        """See EventStore.stream_exists."""
        return await self.stream_version(stream_id) > 0

    async def last_position(self) -> int:
        """See EventStore.last_position."""
        sql = "SELECT coalesce(max(position), 0) FROM eskit_events"
        return int(await self._read(lambda c: c.execute(sql).fetchone()[0]))

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams; ``after`` is the position of a stream's first event."""
        sql = (
            "SELECT s.stream_id, s.stream_type, s.recorded_at, s.position, "
            "(SELECT max(version) FROM eskit_events e WHERE e.stream_id = s.stream_id), "
            "(SELECT recorded_at FROM eskit_events e WHERE e.stream_id = s.stream_id "
            " ORDER BY version DESC LIMIT 1) "
            "FROM eskit_events s WHERE s.version = 1 AND s.position > ?"
        )
        params: list[Any] = [after]
        if stream_type:
            sql += " AND s.stream_type = ?"
            params.append(stream_type)
        sql += " ORDER BY s.position LIMIT ?"
        params.append(limit)
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [
            StreamInfo(
                r[0], r[1], r[4], datetime.fromisoformat(r[2]), datetime.fromisoformat(r[5]), r[3]
            )
            for r in rows
        ]

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        ids = [str(i) for i in event_ids]
        if not ids:
            return []
        sql = f"SELECT {_COLUMNS} FROM eskit_events WHERE event_id IN ({','.join('?' * len(ids))})"
        return await self._read(lambda c: [event_from_row(r) for r in c.execute(sql, ids)])

    async def read_horizon(self) -> ReadHorizon:
        """Committed SQLite writes are visible to readers at once: nothing holds them back."""
        return ReadHorizon(position=await self.last_position())

    # -- snapshots -------------------------------------------------------------------

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        row = (
            snapshot.stream_id,
            snapshot.stream_type,
            snapshot.version,
            snapshot.schema_version,
            json_dumps(snapshot.state),
            _timestamp(snapshot.recorded_at or datetime.now(UTC)),
        )

        def save(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO eskit_snapshots VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (stream_id) DO UPDATE SET stream_type = excluded.stream_type, "
                "version = excluded.version, schema_version = excluded.schema_version, "
                "state = excluded.state, recorded_at = excluded.recorded_at "
                "WHERE excluded.version >= eskit_snapshots.version",
                row,
            )

        await self._writer_thread().transaction(save)

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
            sql, params = stream_query(
                _PAYLOAD, stream_id, after + 1, None, None, mark="?", time_value=_timestamp
            )
            return snapshot, list(map(EventPayload._make, conn.execute(sql, params)))

        return await self._read(read)

    # -- command outcomes ------------------------------------------------------------

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome."""
        moment = outcome.recorded_at or datetime.now(UTC)
        row = (
            str(outcome.command_id),
            outcome.stream_id,
            outcome.version,
            outcome.position,
            outcome.fingerprint,
            _timestamp(moment),
        )

        def record(conn: sqlite3.Connection) -> CommandOutcome:
            conn.execute(
                "INSERT INTO eskit_command_outcomes VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (command_id) DO NOTHING",
                row,
            )
            kept = _outcome(conn, row[0])
            assert kept is not None
            return kept

        return await self._writer_thread().transaction(record)

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        return await self._read(lambda c: _outcome(c, str(command_id)))


def _outcome(conn: sqlite3.Connection, command_id: str) -> CommandOutcome | None:
    row = conn.execute(
        "SELECT command_id, stream_id, version, position, fingerprint, recorded_at "
        "FROM eskit_command_outcomes WHERE command_id = ?",
        (command_id,),
    ).fetchone()
    if row is None:
        return None
    return CommandOutcome(
        uuid.UUID(row[0]), row[1], row[2], row[3], row[4], datetime.fromisoformat(row[5])
    )


def _snapshot(conn: sqlite3.Connection, stream_id: str) -> Snapshot | None:
    row = conn.execute(
        "SELECT stream_id, stream_type, version, schema_version, state, recorded_at "
        "FROM eskit_snapshots WHERE stream_id = ?",
        (stream_id,),
    ).fetchone()
    if row is None:
        return None
    return Snapshot(
        row[0], row[1], row[2], row[3], orjson.loads(row[4]), datetime.fromisoformat(row[5])
    )


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (our scripts hold no ';' inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
