"""The production event store on PostgreSQL (psycopg 3, async, pooled).

How the global order stays trustworthy while writers run in parallel
--------------------------------------------------------------------
A sequence hands out numbers at insert time, but transactions commit in any order, so a
reader of "everything after P" could pass a position that a slower transaction fills in
later. Here an event's position is ``(xid << 16) + n``: the 64-bit id of the transaction
that appended it, then its ordinal in that transaction. Readers of the global log only
return rows below the read horizon (``sql.HORIZON``): positions of transactions older than
the oldest one still running, all final. Writers take no lock beyond the row they insert;
readers may be held back by a long transaction, which :meth:`PostgresEventStore.read_horizon`
names (pid, age, query).

Appends are one statement in autocommit mode: the version check, the insert and the
commit cost one round trip. A concurrent append to the same stream collides on the unique
``(stream_id, version)`` key and becomes a ConcurrencyError. Concurrent appends to distinct
streams from one process share a statement and a commit (see ``combining``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import set_json_loads

from eskit.domain.events import Event
from eskit.errors import ConcurrencyError, ConfigurationError, StoreUnavailableError
from eskit.store.browsing import StreamTypeCount
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.encoding import EncodedEvent, encode_events, json_dumps
from eskit.store.expected import check_expected_version, validate_expected_version
from eskit.store.idempotency import original_outcome
from eskit.store.migrations import migrations_in
from eskit.store.port import StoreCapabilities
from eskit.store.postgres import log, sql
from eskit.store.postgres.combining import AppendCombiner, combined_append
from eskit.store.postgres.listener import PostgresListener
from eskit.store.postgres.notify import CHANNEL, CommitNotifier
from eskit.store.postgres.pool import ConnectionPool
from eskit.store.postgres.session import PoolExecutor, PostgresCommitted, PostgresUnitOfWork
from eskit.store.reading import DerivedReads
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedState,
    ExpectedVersion,
    HorizonBlocker,
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
from eskit.store.unit_of_work import UnitOfWork

__all__ = ["PostgresEventStore", "normalize_postgres_url"]

_ANY_RETRIES = 50
_COMBINE_UP_TO = 100  # larger appends gain nothing from sharing a statement
_UNCHECKED = (ExpectedState.ANY, ExpectedState.STREAM_EXISTS)


def normalize_postgres_url(url: str) -> str:
    """Accept ``postgresql://``, ``postgres://`` and SQLAlchemy's ``postgresql+psycopg://``.

    Unix-socket URLs (``postgresql://user@/db?host=/run/dir``) pass through unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base not in ("postgresql", "postgres"):
        raise ConfigurationError(f"not a PostgreSQL URL: {url!r}")
    return f"postgresql://{rest}"


class PostgresEventStore(DerivedReads):
    """Event store and snapshot store on PostgreSQL, over a connection pool; read models,
    checkpoints and processed message ids live in the same database.

    Options: ``min_connections``/``max_connections`` size the pool;
    ``connect_timeout_s`` bounds opening a connection and ``acquire_timeout_s`` waiting for a
    free one (both raise StoreUnavailableError); ``reconnect_attempts`` is how often a
    statement is retried on a fresh connection after the old one died; with
    ``combine_appends``, concurrent appends to distinct streams share statements, at most
    ``combine_senders`` of them in flight; with ``notify``, listeners on the ``eskit_events``
    channel hear of commits (see ``notify``). Nothing connects before :meth:`start` (or
    ``async with PostgresEventStore.open(url)``).
    """

    capabilities = StoreCapabilities(transactions=True, other_processes=True, read_ahead=True)

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 16,
        connect_timeout_s: float = 10.0,
        acquire_timeout_s: float = 30.0,
        reconnect_attempts: int = 2,
        combine_appends: bool = True,
        combine_senders: int = 4,
        notify: bool = True,
    ) -> None:
        self.url = normalize_postgres_url(url)
        self.min_connections = min_connections
        self.max_connections = max_connections
        self.connect_timeout_s = connect_timeout_s
        self.acquire_timeout_s = acquire_timeout_s
        self.reconnect_attempts = reconnect_attempts
        self.combine_appends = combine_appends
        self.combine_senders = combine_senders
        self._pool: ConnectionPool | None = None
        self._combiner: AppendCombiner | None = None
        self.appended = AppendSignal()
        """Fired after every append that commits through this object."""
        self._notifier = CommitNotifier(self._notify) if notify else None
        self._notify_conn: psycopg.AsyncConnection[Any] | None = None
        self._run = PoolExecutor(self._fetch, self.connection)
        self._committed = PostgresCommitted(self._run)

    @classmethod
    @asynccontextmanager
    async def open(
        cls, url: str, *, migrate: bool = False, **options: Any
    ) -> AsyncIterator[PostgresEventStore]:
        """Connect the pool (and apply migrations if ``migrate``); close it on exit."""
        store = cls(url, **options)
        await store.start(migrate=migrate)
        try:
            yield store
        finally:
            await store.close()

    async def start(self, *, migrate: bool = False) -> None:
        """Open the pool, waiting until its first connections are up."""
        if self._pool is not None:
            return
        pool = ConnectionPool(
            self.url,
            min_size=self.min_connections,
            max_size=self.max_connections,
            connect_timeout_s=self.connect_timeout_s,
            acquire_timeout_s=self.acquire_timeout_s,
            configure=self._configure,
        )
        try:
            await pool.open()
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        if self.combine_appends:
            self._combiner = AppendCombiner(
                lambda p: self._append_alone(p.stream_id, p.events, p.expected, p.stream_type),
                lambda appends: self._fetch(sql.COMBINED_APPEND, combined_append(appends)),
                max_senders=min(self.max_connections, self.combine_senders),
            )
        if migrate:
            await self.migrate()

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
        set_json_loads(orjson.loads, conn)
        # times come back in the session's zone: make that UTC whatever the server says
        await conn.execute(sql.SET_UTC)

    async def close(self) -> None:
        """Close the pool. Idempotent."""
        if self._notifier is not None:
            await self._notifier.close()
        notify_conn, self._notify_conn = self._notify_conn, None
        if notify_conn is not None:
            await notify_conn.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> PostgresEventStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def commit_listener(self) -> CommitListener:
        """A ``LISTEN`` on the channel every store notifies after its commits."""
        return PostgresListener(self.url, self.appended)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection; connection failures become StoreUnavailableError."""
        if self._pool is None:
            raise StoreUnavailableError("the PostgreSQL store is not open")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError(f"PostgreSQL failed: {exc}") from exc

    async def _fetch(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        # A pooled connection may have died (server restart, killed backend). Every
        # statement sent here is safe to repeat: reads are pure and appends carry their
        # event ids, so a repeat of an append that did commit is recognised and not
        # written twice. So try again, on a fresh connection, before giving up. (The pool
        # is used without context managers: this is the path of every append.)
        pool = self._pool
        if pool is None:
            raise StoreUnavailableError("the PostgreSQL store is not open")
        for attempt in range(self.reconnect_attempts + 1):
            last = attempt == self.reconnect_attempts
            try:
                conn, born = await pool.acquire()
            except StoreUnavailableError as exc:
                if last or not isinstance(exc.__cause__, psycopg.OperationalError):
                    raise
                continue
            try:
                cur = pool.cursor(conn)
                await cur.execute(statement, params)
                rows = await cur.fetchall()
            except psycopg.OperationalError as exc:
                await pool.release(conn, born)
                if last:
                    raise StoreUnavailableError(f"PostgreSQL failed: {exc}") from exc
                continue
            except BaseException:
                await pool.release(conn, born)
                raise
            await pool.release(conn, born)
            return rows
        raise AssertionError("unreachable")  # pragma: no cover

    # -- transactions ----------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """See TransactionalStore.transaction: one pooled connection, one transaction."""
        async with self.connection() as conn:
            assert self._pool is not None  # connection() checked
            try:
                async with conn.transaction():
                    unit = PostgresUnitOfWork(conn, self._pool.cursor(conn))
                    yield unit
            except psycopg.OperationalError as exc:
                raise StoreUnavailableError(f"PostgreSQL failed: {exc}") from exc
        if unit.last_position:
            self.committed_at(unit.last_position)

    @property
    def committed(self) -> PostgresCommitted:
        """See TransactionalStore.committed: read on pooled connections."""
        return self._committed

    # -- schema ----------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction, under an advisory lock."""
        applied = []
        async with self.connection() as conn, conn.transaction():
            await conn.execute(sql.MIGRATIONS_LOCK)
            await conn.execute(sql.CREATE_MIGRATIONS)
            cur = await conn.execute(sql.APPLIED_MIGRATIONS)
            done = {row[0] for row in await cur.fetchall()}
            for migration in migrations_in("eskit.store.postgres.migrations"):
                if migration.number in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql.encode())
                    await conn.execute(sql.RECORD_MIGRATION, (migration.number, migration.name))
                applied.append(migration.name)
        return applied

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
        if not batch:
            return await self._append_nothing(stream_id, expected_version)
        if self._combiner is not None and len(batch) <= _COMBINE_UP_TO:
            result = await self._combiner.append(stream_id, batch, expected_version, stream_type)
        else:
            result = await self._append_alone(stream_id, batch, expected_version, stream_type)
        if not result.deduplicated:
            self.committed_at(result.position)
        return result

    def committed_at(self, position: int) -> None:
        """Wake readers here and, through NOTIFY, in other processes: ``position`` committed."""
        self.appended.fire(position)
        if self._notifier is not None:
            self._notifier.committed(position)

    async def _notify(self, position: int) -> None:
        # A connection of its own, whose commits do not wait for the WAL flush: a notice
        # is worth nothing after a crash, and waiting for an fsync per notice would take
        # disk time from the appends.
        conn = self._notify_conn
        if conn is None or conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout_s))
            )
            await conn.execute(sql.QUICK_COMMITS)
            self._notify_conn = conn
        try:
            await conn.execute(sql.notify(CHANNEL, position))
        except psycopg.OperationalError:
            self._notify_conn = None
            await conn.close()
            raise

    async def _append_alone(
        self,
        stream_id: str,
        batch: list[EncodedEvent],
        expected_version: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        statement = sql.append_statement(len(batch) > 1, expected_version)
        params = log.append_params(stream_id, batch, expected_version, stream_type)
        for _ in range(_ANY_RETRIES):
            result = await self._try_append(stream_id, batch, expected_version, statement, params)
            if result is not None:
                return result
        raise ConcurrencyError(stream_id, expected_version)

    async def _try_append(
        self,
        stream_id: str,
        batch: list[EncodedEvent],
        expected: ExpectedVersion,
        statement: str,
        params: dict[str, Any],
    ) -> AppendResult | None:
        """One attempt; None means "lost a race that allows another try"."""
        try:
            rows = await self._fetch(statement, params)
        except pg_errors.UniqueViolation as exc:
            constraint = exc.diag.constraint_name
            if constraint == sql.STREAM_VERSION_KEY and expected in _UNCHECKED:
                return None  # no version was promised: take the next one
            outcome = original_outcome(stream_id, batch, await self._find(batch))
            if outcome is not None:
                return outcome
            if constraint == sql.EVENT_ID_KEY:
                return None  # the clashing append rolled back meanwhile: try again
            raise ConcurrencyError(stream_id, expected) from exc
        if rows:
            position, version = max(rows)
            return AppendResult(stream_id, version, position)
        # the version check refused: a retry of a finished append, or a real conflict
        outcome = original_outcome(stream_id, batch, await self._find(batch))
        if outcome is not None:
            return outcome
        raise ConcurrencyError(stream_id, expected, await self.stream_version(stream_id))

    async def _append_nothing(self, stream_id: str, expected: ExpectedVersion) -> AppendResult:
        rows = await self._fetch(sql.LAST_OF_STREAM, (stream_id,))
        version, position = rows[0] if rows else (0, 0)
        check_expected_version(stream_id, expected, version)
        return AppendResult(stream_id, version, position)

    async def _find(self, batch: list[EncodedEvent]) -> list[StoredEvent]:
        return await self.find_events([e.event_id for e in batch])

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
        return await log.read_stream(self._run, stream_id, from_version, to_version, until)

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """See EventStore.read_payloads."""
        return await log.payloads(self._run, stream_id, from_version, to_version, until)

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_batch: only positions below the read horizon."""
        return await log.read_batch(self._run, after, limit, stream_types, event_types)

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogPage:
        """See EventStore.read_page: one statement, one round trip."""
        return await log.read_page(self._run, after, limit, stream_types, event_types)

    async def count_events(
        self,
        *,
        after: int,
        up_to: int,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogSpan:
        """See EventStore.count_events."""
        return await log.count(self._run, after, up_to, stream_types, event_types)

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        return await log.stream_version(self._run, stream_id)

    async def last_position(self) -> int:
        """See EventStore.last_position: the last position below the read horizon."""
        return int((await self._fetch(sql.LAST_POSITION))[0][0])

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams; ``after`` is the position of a stream's first event."""
        statement, params = sql.LIST_STREAMS, list[Any]([after])
        if stream_type:
            statement += " AND s.stream_type = %s"
            params.append(stream_type)
        statement += " ORDER BY s.position LIMIT %s"
        params.append(limit)
        return [StreamInfo(*row) for row in await self._fetch(statement, params)]

    # -- browsing (eskit.store.browsing.LogBrowser) -------------------------------------

    async def stream_types(self) -> list[StreamTypeCount]:
        """See LogBrowser.stream_types."""
        return [StreamTypeCount(r[0], int(r[1])) for r in await self._fetch(sql.STREAM_TYPES)]

    async def latest_streams(
        self, *, stream_type: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[StreamInfo]:
        """See LogBrowser.latest_streams."""
        statement, params = sql.LATEST_STREAMS, list[Any]([_before(before)])
        if stream_type is not None:
            statement += " AND s.stream_type = %s"
            params.append(stream_type)
        statement += " ORDER BY s.position DESC LIMIT %s"
        params.append(limit)
        return [StreamInfo(*row) for row in await self._fetch(statement, params)]

    async def latest_events(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """See LogBrowser.latest_events."""
        rows = await self._fetch(sql.LATEST_EVENTS, (_before(before), limit))
        return [StoredEvent(*row) for row in rows]

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        return await log.find(self._run, event_ids)

    def saturation(self) -> StoreSaturation:
        """The connection pool's use and waiters, and the appends queued for the combiner."""
        pool, combiner = self._pool, self._combiner
        if pool is None:
            return StoreSaturation()
        return StoreSaturation(
            pool_open=pool.size,
            pool_in_use=pool.size - pool.idle,
            pool_max=pool.max_size,
            pool_waiting=pool.waiting,
            write_queue=combiner.queued if combiner is not None else 0,
        )

    async def read_horizon(self) -> ReadHorizon:
        """The read horizon, the committed events beyond it and the transactions holding it."""
        async with self.connection() as conn:
            cur = await conn.execute(sql.HORIZON_STATE)
            row = await cur.fetchone()
            assert row is not None
            visible, pending, newest = row
            blockers: list[HorizonBlocker] = []
            if pending:
                cur = await conn.execute(sql.BLOCKERS, {"below": int(newest) >> 16})
                blockers = [HorizonBlocker(*r) for r in await cur.fetchall()]
        return ReadHorizon(
            position=int(visible), pending_events=int(pending), blockers=tuple(blockers)
        )

    # -- snapshots -------------------------------------------------------------------

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        await self._fetch(
            sql.SAVE_SNAPSHOT,
            (
                snapshot.stream_id,
                snapshot.stream_type,
                snapshot.version,
                snapshot.schema_version,
                json_dumps(snapshot.state),
                snapshot.recorded_at,
            ),
        )

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """See EventStoreBackend.read_since_snapshot: one statement, one round trip."""
        rows = await self._fetch(
            sql.SINCE_SNAPSHOT, {"stream": stream_id, "schema": schema_version}
        )
        snapshot = None
        if rows and rows[0][0] is None:  # the snapshot's row comes first, without a position
            _, version, stream_type, schema, state, recorded_at = rows[0]
            snapshot = Snapshot(
                stream_id, stream_type, version, schema, orjson.loads(state), recorded_at
            )
            rows = rows[1:]
        return snapshot, [EventPayload(p, v, t, sv, d) for p, v, t, sv, d, _ in rows]

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """See SnapshotStore.load_snapshot."""
        rows = await self._fetch(sql.LOAD_SNAPSHOT, (stream_id,))
        return Snapshot(*rows[0]) if rows else None

    # -- command outcomes ------------------------------------------------------------

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome: one statement, the first outcome wins."""
        rows = await self._fetch(
            sql.RECORD_OUTCOME,
            {
                "id": outcome.command_id,
                "stream": outcome.stream_id,
                "version": outcome.version,
                "position": outcome.position,
                "fingerprint": outcome.fingerprint,
                "at": outcome.recorded_at,
            },
        )
        if rows:
            return CommandOutcome(*rows[0])
        # A racing insert committed after this statement's snapshot was taken: the conflict
        # stopped ours, but the snapshot cannot see theirs. A new statement can.
        kept = await self.find_outcome(outcome.command_id)
        if kept is None:  # pragma: no cover - the row that conflicted is committed
            raise AssertionError(f"no outcome kept for command {outcome.command_id}")
        return kept

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        rows = await self._fetch(sql.FIND_OUTCOME, (command_id,))
        return CommandOutcome(*rows[0]) if rows else None


def _before(before: int | None) -> int:
    """The keyset bound of a page newest first: no bound, the first page."""
    return (1 << 63) - 1 if before is None else before
