"""The production event store on PostgreSQL (psycopg 3, async, pooled).

How the global order stays trustworthy while writers run in parallel
--------------------------------------------------------------------
A sequence hands out numbers at insert time, but transactions commit in any order, so a
reader of "everything after P" could pass a position that a slower transaction fills in
later. Here an event's position is ``(xid << 16) + n``: the 64-bit id of the transaction
that appended it, then its ordinal in that transaction. Readers of the global log only
return rows whose transaction id is below ``pg_snapshot_xmin(pg_current_snapshot())``, the
oldest transaction still running: every transaction below it has ended, so every position
below ``xmin << 16`` is final, and any transaction still to commit has a higher one.
Writers take no lock beyond the row they insert; readers may be held back by a long
transaction, which :meth:`PostgresEventStore.read_horizon` names (pid, age, query).

Appends are one statement in autocommit mode: the version check, the insert and the
commit cost one round trip. A concurrent append to the same stream collides on the unique
``(stream_id, version)`` key and becomes a ConcurrencyError. Concurrent appends to distinct
streams from one process share a statement and a commit (see ``pg_combining``).
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
from eskit.store.encoding import EncodedEvent, encode_events, json_dumps
from eskit.store.expected import check_expected_version, validate_expected_version
from eskit.store.idempotency import original_outcome
from eskit.store.migrations import migrations_for
from eskit.store.pg_combining import COMBINED_APPEND, AppendCombiner, combined_append
from eskit.store.pg_notify import CHANNEL, CommitNotifier
from eskit.store.pg_pool import ConnectionPool
from eskit.store.reading import read_in_batches, stream_query
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedState,
    ExpectedVersion,
    HorizonBlocker,
    Metadata,
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StreamInfo,
)
from eskit.store.signal import AppendSignal

__all__ = ["PostgresEventStore", "normalize_postgres_url"]

_COLUMNS = (
    "position, stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at"
)
_HORIZON = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16)"
_EVENT_ID_KEY = "eskit_events_event_id_key"
_STREAM_VERSION_KEY = "eskit_events_stream_version_key"
_ANY_RETRIES = 50
_COMBINE_UP_TO = 100  # larger appends gain nothing from sharing a statement
_UNCHECKED = (ExpectedState.ANY, ExpectedState.STREAM_EXISTS)

# One event per append is the common case: scalar parameters cost far less to send than
# arrays, so it has its own statement; larger appends unnest arrays in one round trip.
# Arrays go in binary (%b): the text form quotes and escapes every element with a regular
# expression, which cost a server about 7 % of its CPU per command.
# The last event of the stream gives both its version and its type (every event of a
# stream carries the type of its first one): one index probe checks the expected version.
_CURRENT = """
(SELECT 1) AS one LEFT JOIN LATERAL (
    SELECT version, stream_type FROM eskit_events WHERE stream_id = %(stream)s
    ORDER BY version DESC LIMIT 1
) AS last ON true"""
_APPEND_ONE = """
INSERT INTO eskit_events ({columns})
SELECT (pg_current_xact_id()::text::bigint << 16) + 1, %(stream)s,
       coalesce(last.stream_type, %(stream_type)s), coalesce(last.version, 0) + 1,
       %(id)s, %(type)s, %(schema_version)s, %(data)s::jsonb, %(metadata)s::jsonb, now()
FROM {current}
WHERE {condition}
RETURNING position, version
"""
_APPEND_MANY = """
INSERT INTO eskit_events ({columns})
SELECT (pg_current_xact_id()::text::bigint << 16) + e.ordinal, %(stream)s,
       coalesce(last.stream_type, %(stream_type)s), coalesce(last.version, 0) + e.ordinal, e.id, e.type, e.schema_version, e.data, e.metadata,
       now()
FROM {current},
     unnest(%(id)b::uuid[], %(type)b::text[], %(schema_version)b::int[],
            %(data)b::jsonb[], %(metadata)b::jsonb[])
     WITH ORDINALITY AS e(id, type, schema_version, data, metadata, ordinal)
WHERE {condition}
RETURNING position, version
"""
_CONDITIONS: dict[object, str] = {
    "exact": "coalesce(last.version, 0) = %(expected)s",
    ExpectedState.STREAM_EXISTS: "last.version IS NOT NULL",
    ExpectedState.ANY: "true",
}
_APPEND_SQL = {
    (many, mode): (_APPEND_MANY if many else _APPEND_ONE).format(
        columns=_COLUMNS, current=_CURRENT, condition=condition
    )
    for many in (False, True)
    for mode, condition in _CONDITIONS.items()
}

_COMBINED_APPEND = COMBINED_APPEND.format(columns=_COLUMNS)

# The snapshot (if its schema is current) and the events after it, in one statement: the
# snapshot's row has no position and sorts first, as its version precedes every event's.
_SINCE_SNAPSHOT = """
WITH snap AS (
    SELECT version, stream_type, schema_version, state::text AS state, recorded_at
    FROM eskit_snapshots WHERE stream_id = %(stream)s AND schema_version = %(schema)s
)
SELECT NULL::bigint, version, stream_type, schema_version, state, recorded_at FROM snap
UNION ALL
SELECT position, version, event_type, schema_version, data::text, NULL FROM eskit_events
WHERE stream_id = %(stream)s AND version > coalesce((SELECT version FROM snap), 0)
ORDER BY 2
"""

_BLOCKERS = """
WITH snap AS (SELECT pg_current_snapshot() AS s),
running AS (
    SELECT xip::text::bigint AS xid FROM snap, pg_snapshot_xip(snap.s) AS xip
    WHERE xip::text::bigint < %(below)s
)
SELECT a.pid, a.datname, a.usename, a.application_name, a.state,
       extract(epoch FROM now() - a.xact_start)::float8, left(a.query, 500)
FROM running r JOIN pg_stat_activity a ON a.backend_xid::text::bigint = r.xid %% 4294967296
UNION ALL
SELECT NULL, p.database, p.owner, 'prepared transaction ' || p.gid, 'prepared',
       extract(epoch FROM now() - p.prepared)::float8, NULL
FROM running r JOIN pg_prepared_xacts p ON p.transaction::text::bigint = r.xid %% 4294967296
ORDER BY 6 DESC NULLS LAST
"""


_PAYLOAD = "position, version, event_type, schema_version, data::text"


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


def _append_statement(
    stream_id: str, batch: list[EncodedEvent], expected: ExpectedVersion, stream_type: str
) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"stream": stream_id, "stream_type": stream_type}
    if len(batch) == 1:
        (one,) = batch
        params.update(
            id=one.event_id,
            type=one.event_type,
            schema_version=one.schema_version,
            data=one.data,
            metadata=one.metadata,
        )
    else:
        params.update(
            id=[e.event_id for e in batch],
            type=[e.event_type for e in batch],
            schema_version=[e.schema_version for e in batch],
            data=[e.data for e in batch],
            metadata=[e.metadata for e in batch],
        )
    if isinstance(expected, int) or expected is ExpectedState.NO_STREAM:
        mode: object = "exact"
        params["expected"] = 0 if expected is ExpectedState.NO_STREAM else expected
    else:
        mode = expected
    return _APPEND_SQL[(len(batch) > 1, mode)], params


_OUTCOME_COLUMNS = "command_id, stream_id, version, position, fingerprint, recorded_at"

# Both branches in one statement: the row inserted, or (on a conflict, which inserts
# nothing) the row that was there first, when this statement's snapshot can see it.
_RECORD_OUTCOME = f"""
WITH inserted AS (
    INSERT INTO eskit_command_outcomes ({_OUTCOME_COLUMNS})
    VALUES (%(id)s, %(stream)s, %(version)s, %(position)s, %(fingerprint)s,
            coalesce(%(at)s::timestamptz, now()))
    ON CONFLICT (command_id) DO NOTHING
    RETURNING {_OUTCOME_COLUMNS}
)
SELECT * FROM inserted
UNION ALL
SELECT {_OUTCOME_COLUMNS} FROM eskit_command_outcomes
WHERE command_id = %(id)s AND NOT EXISTS (SELECT 1 FROM inserted)
"""


class PostgresEventStore:
    """Event store and snapshot store on PostgreSQL, over a connection pool.

    Options: ``min_connections``/``max_connections`` size the pool;
    ``connect_timeout_s`` bounds opening a connection and ``acquire_timeout_s`` waiting for a
    free one (both raise StoreUnavailableError); ``reconnect_attempts`` is how often a
    statement is retried on a fresh connection after the old one died; with
    ``combine_appends``, concurrent appends to distinct streams share statements, at most
    ``combine_senders`` of them in flight; with ``notify``, listeners on the ``eskit_events``
    channel hear of commits (see ``pg_notify``). Nothing connects before :meth:`start` (or
    ``async with PostgresEventStore.open(url)``).
    """

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
                lambda appends: self._fetch(_COMBINED_APPEND, combined_append(appends)),
                max_senders=min(self.max_connections, self.combine_senders),
            )
        if migrate:
            await self.migrate()

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
        set_json_loads(orjson.loads, conn)
        # times come back in the session's zone: make that UTC whatever the server says
        await conn.execute("SET TIME ZONE 'UTC'")

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

    async def fetch(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Rows of one statement on a pooled autocommit connection (retried once it died)."""
        return await self._fetch(sql, params)

    async def _fetch(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
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
                cur = await conn.execute(sql, params)
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

    # -- schema ----------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction, under an advisory lock."""
        applied = []
        async with self.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('eskit_migrations'))")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS eskit_migrations (number integer PRIMARY KEY, "
                "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT number FROM eskit_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for migration in migrations_for("postgres"):
                if migration.number in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql.encode())
                    await conn.execute(
                        "INSERT INTO eskit_migrations (number, name) VALUES (%s, %s)",
                        (migration.number, migration.name),
                    )
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
            self.committed(result.position)
        return result

    def committed(self, position: int) -> None:
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
            await conn.execute("SET synchronous_commit = off")
            self._notify_conn = conn
        try:
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(position)))
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
        sql, params = _append_statement(stream_id, batch, expected_version, stream_type)
        for _ in range(_ANY_RETRIES):
            result = await self._try_append(stream_id, batch, expected_version, sql, params)
            if result is not None:
                return result
        raise ConcurrencyError(stream_id, expected_version)

    async def append_within(
        self,
        conn: psycopg.AsyncConnection[Any],
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> tuple[AppendResult, list[EncodedEvent]]:
        """Append on ``conn``, inside the transaction it is in; the caller commits.

        Returns the outcome and the encoded events (for inline projections). A retry of an
        append that already committed returns its first outcome (``deduplicated``) and
        writes nothing; a conflict raises ConcurrencyError and the caller must roll back.
        Call :meth:`committed` with the position after the commit to wake readers.
        """
        validate_expected_version(expected_version)
        batch = encode_events(events, metadata)
        if not batch:
            return await self._append_nothing(stream_id, expected_version), batch
        sql, params = _append_statement(stream_id, batch, expected_version, stream_type)
        try:
            async with conn.transaction():  # a savepoint: a clash leaves the caller's work
                cur = await conn.execute(sql, params)
                rows = await cur.fetchall()
        except pg_errors.UniqueViolation as exc:
            outcome = original_outcome(stream_id, batch, await self._find(batch))
            if outcome is not None:
                return outcome, batch
            raise ConcurrencyError(stream_id, expected_version) from exc
        if rows:
            last = max(rows)
            return AppendResult(stream_id, last[1], last[0]), batch
        outcome = original_outcome(stream_id, batch, await self._find(batch))
        if outcome is not None:
            return outcome, batch
        raise ConcurrencyError(stream_id, expected_version, await self.stream_version(stream_id))

    async def _try_append(
        self,
        stream_id: str,
        batch: list[EncodedEvent],
        expected: ExpectedVersion,
        sql: str,
        params: dict[str, Any],
    ) -> AppendResult | None:
        """One attempt; None means "lost a race that allows another try"."""
        try:
            rows = await self._fetch(sql, params)
        except pg_errors.UniqueViolation as exc:
            constraint = exc.diag.constraint_name
            if constraint == _STREAM_VERSION_KEY and expected in _UNCHECKED:
                return None  # no version was promised: take the next one
            outcome = original_outcome(stream_id, batch, await self._find(batch))
            if outcome is not None:
                return outcome
            if constraint == _EVENT_ID_KEY:
                return None  # the clashing append rolled back meanwhile: try again
            raise ConcurrencyError(stream_id, expected) from exc
        if rows:
            last = max(rows)
            return AppendResult(stream_id, last[1], last[0])
        # the version check refused: a retry of a finished append, or a real conflict
        outcome = original_outcome(stream_id, batch, await self._find(batch))
        if outcome is not None:
            return outcome
        raise ConcurrencyError(stream_id, expected, await self.stream_version(stream_id))

    async def _append_nothing(self, stream_id: str, expected: ExpectedVersion) -> AppendResult:
        rows = await self._fetch(
            "SELECT version, position FROM eskit_events WHERE stream_id = %s "
            "ORDER BY version DESC LIMIT 1",
            (stream_id,),
        )
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
        sql, params = stream_query(_COLUMNS, stream_id, from_version, to_version, until, mark="%s")
        return list(map(StoredEvent._make, await self._fetch(sql, params)))

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """See EventStore.read_payloads."""
        sql, params = stream_query(_PAYLOAD, stream_id, from_version, to_version, until, mark="%s")
        return list(map(EventPayload._make, await self._fetch(sql, params)))

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_batch: only positions below the oldest running transaction."""
        sql = f"SELECT {_COLUMNS} FROM eskit_events WHERE position > %s AND position < {_HORIZON}"
        params: list[Any] = [after]
        if stream_types is not None:
            sql += " AND stream_type = ANY(%s)"
            params.append(list(stream_types))
        if event_types is not None:
            sql += " AND event_type = ANY(%s)"
            params.append(list(event_types))
        sql += " ORDER BY position LIMIT %s"
        params.append(limit)
        return list(map(StoredEvent._make, await self._fetch(sql, params)))

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
        rows = await self._fetch(
            "SELECT coalesce(max(version), 0) FROM eskit_events WHERE stream_id = %s", (stream_id,)
        )
        return int(rows[0][0])

    async def stream_exists(self, stream_id: str) -> bool:
        """See EventStore.stream_exists."""
        return await self.stream_version(stream_id) > 0

    async def last_position(self) -> int:
        """See EventStore.last_position: the last position below the read horizon."""
        rows = await self._fetch(
            f"SELECT coalesce(max(position), 0) FROM eskit_events WHERE position < {_HORIZON}"
        )
        return int(rows[0][0])

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams; ``after`` is the position of a stream's first event."""
        sql = (
            "SELECT s.stream_id, s.stream_type, last.version, s.recorded_at, last.recorded_at, "
            "s.position "
            "FROM eskit_events s CROSS JOIN LATERAL ("
            "  SELECT version, recorded_at FROM eskit_events e WHERE e.stream_id = s.stream_id "
            "  ORDER BY version DESC LIMIT 1) last "
            "WHERE s.version = 1 AND s.position > %s AND s.position < "
            f"{_HORIZON}"
        )
        params: list[Any] = [after]
        if stream_type:
            sql += " AND s.stream_type = %s"
            params.append(stream_type)
        sql += " ORDER BY s.position LIMIT %s"
        params.append(limit)
        return [StreamInfo(*row) for row in await self._fetch(sql, params)]

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        if not event_ids:
            return []
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM eskit_events WHERE event_id = ANY(%s::uuid[])",
            ([str(i) for i in event_ids],),
        )
        return list(map(StoredEvent._make, rows))

    async def read_horizon(self) -> ReadHorizon:
        """The read horizon, the committed events beyond it and the transactions holding it."""
        async with self.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_HORIZON}, "
                f"(SELECT coalesce(max(position), 0) FROM eskit_events WHERE position < {_HORIZON}), "
                f"(SELECT count(*) FROM eskit_events WHERE position >= {_HORIZON}), "
                f"(SELECT max(position) FROM eskit_events WHERE position >= {_HORIZON})"
            )
            row = await cur.fetchone()
            assert row is not None
            _, visible, pending, newest = row
            blockers: list[HorizonBlocker] = []
            if pending:
                cur = await conn.execute(_BLOCKERS, {"below": int(newest) >> 16})
                blockers = [HorizonBlocker(*r) for r in await cur.fetchall()]
        return ReadHorizon(
            position=int(visible), pending_events=int(pending), blockers=tuple(blockers)
        )

    # -- snapshots -------------------------------------------------------------------

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        await self._fetch(
            "INSERT INTO eskit_snapshots "
            "(stream_id, stream_type, version, schema_version, state, recorded_at) "
            "VALUES (%s, %s, %s, %s, %s::jsonb, coalesce(%s, now())) "
            "ON CONFLICT (stream_id) DO UPDATE SET "
            "stream_type = excluded.stream_type, version = excluded.version, "
            "schema_version = excluded.schema_version, state = excluded.state, "
            "recorded_at = excluded.recorded_at "
            "WHERE excluded.version >= eskit_snapshots.version RETURNING 1",
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
        rows = await self._fetch(_SINCE_SNAPSHOT, {"stream": stream_id, "schema": schema_version})
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
        rows = await self._fetch(
            "SELECT stream_id, stream_type, version, schema_version, state, recorded_at "
            "FROM eskit_snapshots WHERE stream_id = %s",
            (stream_id,),
        )
        return Snapshot(*rows[0]) if rows else None

    # -- command outcomes ------------------------------------------------------------

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome: one statement, the first outcome wins."""
        rows = await self._fetch(
            _RECORD_OUTCOME,
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
        rows = await self._fetch(
            f"SELECT {_OUTCOME_COLUMNS} FROM eskit_command_outcomes WHERE command_id = %s",
            (command_id,),
        )
        return CommandOutcome(*rows[0]) if rows else None
