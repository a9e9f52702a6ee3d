"""Every SQL statement of the PostgreSQL store, and the builders of the dynamic ones.

Placeholders are psycopg's (``%s``, ``%(name)s``; ``%b`` sends a parameter in binary).
Table and column names spliced in are plain identifiers, checked by the read-model
toolkit before they get here.

The read horizon
----------------
An event's position is ``(xid << 16) + n``: the 64-bit id of the transaction that appended
it, then its ordinal in that transaction. Readers of the global log only return positions
below :data:`HORIZON`, ``pg_snapshot_xmin(pg_current_snapshot()) << 16``: every
transaction below the oldest one still running has ended, so every position below it is
final, and any transaction still to commit has a higher one. This expression is the heart
of the ordering guarantee; every global read uses it, and it is written only here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from eskit.store.records import ExpectedState, ExpectedVersion
from eskit.store.rows import Match, SearchQuery

HORIZON = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16)"
"""Positions below this are final: no transaction can still commit one of them."""

# -- the event log ---------------------------------------------------------------------------

STORED_COLUMNS = (
    "position, stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at"
)
"""The columns of eskit_events, in the order of an insert."""
EVENT_COLUMNS = (
    "position, stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data::text, metadata::text, recorded_at"
)
"""A stored event as read: JSON as text, parsed only when someone asks (see StoredEvent)."""
PAYLOAD_COLUMNS = "position, version, event_type, schema_version, data::text"
EVENT_ID_KEY = "eskit_events_event_id_key"
STREAM_VERSION_KEY = "eskit_events_stream_version_key"

# One event per append is the common case: scalar parameters cost far less to send than
# arrays, so it has its own statement; larger appends unnest arrays in one round trip.
# Arrays go in binary (%b): the text form quotes and escapes every element with a regular
# expression, which cost a server about 7 % of its CPU per command.
# The last event of the stream gives both its version and its type (every event of a
# stream carries the type of its first one): one index probe checks the expected version.
# ``offset`` counts the events appended earlier in the same transaction: their ordinals
# come first.
_CURRENT = """
(SELECT 1) AS one LEFT JOIN LATERAL (
    SELECT version, stream_type FROM eskit_events WHERE stream_id = %(stream)s
    ORDER BY version DESC LIMIT 1
) AS last ON true"""
_APPEND_ONE = """
INSERT INTO eskit_events ({columns})
SELECT (pg_current_xact_id()::text::bigint << 16) + %(offset)s + 1, %(stream)s,
       coalesce(last.stream_type, %(stream_type)s), coalesce(last.version, 0) + 1,
       %(id)s, %(type)s, %(schema_version)s, %(data)s::jsonb, %(metadata)s::jsonb, now()
FROM {current}
WHERE {condition}
RETURNING position, version
"""
_APPEND_MANY = """
INSERT INTO eskit_events ({columns})
SELECT (pg_current_xact_id()::text::bigint << 16) + %(offset)s + e.ordinal, %(stream)s,
       coalesce(last.stream_type, %(stream_type)s), coalesce(last.version, 0) + e.ordinal,
       e.id, e.type, e.schema_version, e.data, e.metadata, now()
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
_APPENDS = {
    (many, mode): (_APPEND_MANY if many else _APPEND_ONE).format(
        columns=STORED_COLUMNS, current=_CURRENT, condition=condition
    )
    for many in (False, True)
    for mode, condition in _CONDITIONS.items()
}


def append_statement(many: bool, expected: ExpectedVersion) -> str:
    """The append for one event or several, checking ``expected``."""
    if isinstance(expected, int) or expected is ExpectedState.NO_STREAM:
        return _APPENDS[(many, "exact")]
    return _APPENDS[(many, expected)]


# Appends of several callers to distinct streams in one statement (see ``combining``): each
# request keeps its own version check; the rows of a refused one are simply not inserted.
COMBINED_APPEND = f"""
WITH request AS (
    SELECT * FROM unnest(%(r_stream)b::text[], %(r_type)b::text[], %(r_mode)b::int[],
                         %(r_expected)b::bigint[], %(r_first)b::int[])
         WITH ORDINALITY AS r(stream_id, stream_type, mode, expected, first_ordinal, request)
), accepted AS (
    SELECT r.request, r.stream_id, r.first_ordinal,
           coalesce(last.stream_type, r.stream_type) AS stream_type,
           coalesce(last.version, 0) AS version
    FROM request r LEFT JOIN LATERAL (
        SELECT version, stream_type FROM eskit_events WHERE stream_id = r.stream_id
        ORDER BY version DESC LIMIT 1
    ) last ON true
    WHERE CASE r.mode WHEN 0 THEN coalesce(last.version, 0) = r.expected
                      WHEN 1 THEN true
                      ELSE last.version IS NOT NULL END
)
INSERT INTO eskit_events ({STORED_COLUMNS})
SELECT (pg_current_xact_id()::text::bigint << 16) + e.ordinal, a.stream_id, a.stream_type,
       a.version + e.ordinal - a.first_ordinal + 1,
       e.id, e.type, e.schema_version, e.data, e.metadata, now()
FROM unnest(%(id)b::uuid[], %(type)b::text[], %(schema_version)b::int[],
            %(data)b::jsonb[], %(metadata)b::jsonb[], %(request)b::int[])
     WITH ORDINALITY AS e(id, type, schema_version, data, metadata, request, ordinal)
JOIN accepted a ON a.request = e.request
RETURNING stream_id, position, version
"""

LOCK_STREAM = "SELECT pg_advisory_xact_lock(hashtextextended('eskit_events:' || %s, 0))"
"""Appends to one stream that promise no version take turns until their transactions end."""
LAST_OF_STREAM = (
    "SELECT version, position FROM eskit_events WHERE stream_id = %s ORDER BY version DESC LIMIT 1"
)
STREAM_VERSION = "SELECT coalesce(max(version), 0) FROM eskit_events WHERE stream_id = %s"
EVENTS_BY_ID = f"SELECT {EVENT_COLUMNS} FROM eskit_events WHERE event_id = ANY(%s::uuid[])"
LAST_POSITION = f"SELECT coalesce(max(position), 0) FROM eskit_events WHERE position < {HORIZON}"

# The snapshot (if its schema is current) and the events after it, in one statement: the
# snapshot's row has no position and sorts first, as its version precedes every event's.
SINCE_SNAPSHOT = """
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

LIST_STREAMS = (
    "SELECT s.stream_id, s.stream_type, last.version, s.recorded_at, last.recorded_at, "
    "s.position "
    "FROM eskit_events s CROSS JOIN LATERAL ("
    "  SELECT version, recorded_at FROM eskit_events e WHERE e.stream_id = s.stream_id "
    "  ORDER BY version DESC LIMIT 1) last "
    f"WHERE s.version = 1 AND s.position > %s AND s.position < {HORIZON}"
)

# -- browsing, newest first (eskit.store.browsing): keyset pages on the partial indexes of
# first events, so no page scans the log
STREAM_TYPES = (
    "SELECT stream_type, count(*) FROM eskit_events "
    f"WHERE version = 1 AND position < {HORIZON} GROUP BY stream_type ORDER BY stream_type"
)
LATEST_STREAMS = (
    "SELECT s.stream_id, s.stream_type, last.version, s.recorded_at, last.recorded_at, "
    "s.position "
    "FROM eskit_events s CROSS JOIN LATERAL ("
    "  SELECT version, recorded_at FROM eskit_events e WHERE e.stream_id = s.stream_id "
    f"  AND e.position < {HORIZON} ORDER BY version DESC LIMIT 1) last "
    f"WHERE s.version = 1 AND s.position < least(%s, {HORIZON})"
)
LATEST_EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM eskit_events WHERE position < least(%s, {HORIZON}) "
    "ORDER BY position DESC LIMIT %s"
)

HORIZON_STATE = (
    f"SELECT (SELECT coalesce(max(position), 0) FROM eskit_events WHERE position < {HORIZON}), "
    f"(SELECT count(*) FROM eskit_events WHERE position >= {HORIZON}), "
    f"(SELECT max(position) FROM eskit_events WHERE position >= {HORIZON})"
)
"""The last visible position, the committed events beyond it, and the newest of those."""
BLOCKERS = """
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
"""The transactions that hold readers back: those older than the newest pending event."""


def stream_query(
    columns: str,
    stream_id: str,
    from_version: int,
    to_version: int | None,
    until: datetime | None,
) -> tuple[str, list[Any]]:
    """One stream in version order, bounded by version or record time."""
    sql = f"SELECT {columns} FROM eskit_events WHERE stream_id = %s AND version >= %s"
    params: list[Any] = [stream_id, from_version]
    if to_version is not None:
        sql += " AND version <= %s"
        params.append(to_version)
    if until is not None:
        sql += " AND recorded_at <= %s"
        params.append(until)
    return sql + " ORDER BY version", params


def _filters(
    stream_types: Collection[str] | None, event_types: Collection[str] | None, params: list[Any]
) -> str:
    sql = ""
    for column, values in (("stream_type", stream_types), ("event_type", event_types)):
        if values is not None:
            sql += f" AND {column} = ANY(%s)"
            params.append(list(values))
    return sql


def log_query(
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
    *,
    visible_only: bool = True,
) -> tuple[str, list[Any]]:
    """Up to ``limit`` events after ``after`` in position order, below the horizon."""
    params: list[Any] = [after]
    sql = f"SELECT {EVENT_COLUMNS} FROM eskit_events WHERE position > %s"
    if visible_only:
        sql += f" AND position < {HORIZON}"
    sql += _filters(stream_types, event_types, params)
    params.append(limit)
    return sql + " ORDER BY position LIMIT %s", params


def page_query(
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
    *,
    visible_only: bool = True,
) -> tuple[str, list[Any]]:
    """The head, then a page of the log, from one snapshot, in one statement.

    Every row starts with the head; an empty page is one row of the head and NULLs.
    """
    below = HORIZON if visible_only else "9223372036854775807"
    params: list[Any] = [after]
    filters = _filters(stream_types, event_types, params)
    params.append(limit)
    # the head is a FROM item, computed once (in the SELECT list it would be computed for
    # every row of the page)
    sql = f"""
WITH h AS (SELECT {below} AS below)
SELECT head.position, p.*
FROM h
CROSS JOIN LATERAL (
    SELECT coalesce(max(position), 0) AS position FROM eskit_events WHERE position < h.below
) head
LEFT JOIN LATERAL (
    SELECT {EVENT_COLUMNS} FROM eskit_events
    WHERE position > %s AND position < h.below{filters}
    ORDER BY position LIMIT %s
) p ON true"""
    return sql, params


def count_query(
    after: int,
    up_to: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> tuple[str, list[Any]]:
    """How many events lie in ``(after, up_to]``, and the oldest record time among them."""
    params: list[Any] = [after, up_to]
    sql = (
        "SELECT count(*), min(recorded_at) FROM eskit_events WHERE position > %s AND position <= %s"
    )
    return sql + _filters(stream_types, event_types, params), params


# -- snapshots and command outcomes -------------------------------------------------------------

SAVE_SNAPSHOT = (
    "INSERT INTO eskit_snapshots "
    "(stream_id, stream_type, version, schema_version, state, recorded_at) "
    "VALUES (%s, %s, %s, %s, %s::jsonb, coalesce(%s, now())) "
    "ON CONFLICT (stream_id) DO UPDATE SET "
    "stream_type = excluded.stream_type, version = excluded.version, "
    "schema_version = excluded.schema_version, state = excluded.state, "
    "recorded_at = excluded.recorded_at "
    "WHERE excluded.version >= eskit_snapshots.version RETURNING 1"
)
LOAD_SNAPSHOT = (
    "SELECT stream_id, stream_type, version, schema_version, state, recorded_at "
    "FROM eskit_snapshots WHERE stream_id = %s"
)
OUTCOME_COLUMNS = "command_id, stream_id, version, position, fingerprint, recorded_at"
# Both branches in one statement: the row inserted, or (on a conflict, which inserts
# nothing) the row that was there first, when this statement's snapshot can see it.
RECORD_OUTCOME = f"""
WITH inserted AS (
    INSERT INTO eskit_command_outcomes ({OUTCOME_COLUMNS})
    VALUES (%(id)s, %(stream)s, %(version)s, %(position)s, %(fingerprint)s,
            coalesce(%(at)s::timestamptz, now()))
    ON CONFLICT (command_id) DO NOTHING
    RETURNING {OUTCOME_COLUMNS}
)
SELECT * FROM inserted
UNION ALL
SELECT {OUTCOME_COLUMNS} FROM eskit_command_outcomes
WHERE command_id = %(id)s AND NOT EXISTS (SELECT 1 FROM inserted)
"""
FIND_OUTCOME = f"SELECT {OUTCOME_COLUMNS} FROM eskit_command_outcomes WHERE command_id = %s"

# -- migrations and notices ------------------------------------------------------------------------

MIGRATIONS_LOCK = "SELECT pg_advisory_xact_lock(hashtext('eskit_migrations'))"
CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS eskit_migrations (number integer PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)
APPLIED_MIGRATIONS = "SELECT number FROM eskit_migrations"
RECORD_MIGRATION = "INSERT INTO eskit_migrations (number, name) VALUES (%s, %s)"


def notify(channel: str, position: int) -> bytes:
    """A notice of commits up to ``position`` on ``channel`` (a plain identifier), as a
    statement without parameters: the simple protocol, one message, no statement to plan."""
    return f"NOTIFY {channel}, '{int(position)}'".encode()


SET_UTC = "SET TIME ZONE 'UTC'"
QUICK_COMMITS = "SET synchronous_commit = off"

# -- checkpoints, parked events, processed messages ---------------------------------------------

CHECKPOINT_COLUMNS = "name, position, updated_at, error, error_position, error_count, error_at"
GET_CHECKPOINT = f"SELECT {CHECKPOINT_COLUMNS} FROM eskit_checkpoints WHERE name = %s"
HOLD_CHECKPOINT = "SELECT position FROM eskit_checkpoints WHERE name = %s FOR UPDATE"
ALL_CHECKPOINTS = f"SELECT {CHECKPOINT_COLUMNS} FROM eskit_checkpoints ORDER BY name"
ADVANCE_CHECKPOINT = (
    "UPDATE eskit_checkpoints SET position = %s, updated_at = now(), error = NULL, "
    "error_position = NULL, error_count = 0, error_at = NULL WHERE name = %s AND position = %s"
)
CREATE_CHECKPOINT = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (%s, %s, now()) "
    "ON CONFLICT (name) DO NOTHING"
)
RESET_CHECKPOINT = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (%s, %s, now()) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at, error = NULL, error_position = NULL, "
    "error_count = 0, error_at = NULL"
)
DELETE_CHECKPOINT = "DELETE FROM eskit_checkpoints WHERE name = %s"
RECORD_ERROR = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at, error, error_position, "
    "error_count, error_at) VALUES (%s, 0, now(), %s, %s, 1, now()) "
    "ON CONFLICT (name) DO UPDATE SET error = excluded.error, "
    "error_position = excluded.error_position, error_at = excluded.error_at, "
    "error_count = eskit_checkpoints.error_count + 1"
)

DEAD_LETTER_COLUMNS = "projection, position, event_id, stream_id, event_type, error, parked_at"
PARK = (
    f"INSERT INTO eskit_dead_letters ({DEAD_LETTER_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (projection, position) DO NOTHING"
)
UNPARK = "DELETE FROM eskit_dead_letters WHERE projection = %s AND position = %s"
PARKED_POSITIONS = "SELECT position FROM eskit_dead_letters WHERE projection = %s"
ALL_DEAD_LETTERS = f"SELECT {DEAD_LETTER_COLUMNS} FROM eskit_dead_letters"
ORDER_DEAD_LETTERS = " ORDER BY projection, position"

RECORD_PROCESSED = """
INSERT INTO eskit_processed_messages (consumer, message_id)
SELECT %s, m FROM unnest(%s::text[]) AS m
ON CONFLICT (consumer, message_id) DO NOTHING
RETURNING message_id
"""
CONSUMER_STREAM_VERSIONS = (
    "SELECT stream_id, version FROM eskit_consumer_streams "
    "WHERE consumer = %s AND stream_id = ANY(%s)"
)
RECORD_CONSUMER_STREAM_VERSIONS = """
INSERT INTO eskit_consumer_streams (consumer, stream_id, version)
SELECT %s, s, v FROM unnest(%s::text[], %s::bigint[]) AS t(s, v)
ON CONFLICT (consumer, stream_id)
DO UPDATE SET version = GREATEST(eskit_consumer_streams.version, excluded.version)
"""
SEEN_MESSAGES = (
    "SELECT message_id FROM eskit_processed_messages WHERE consumer = %s AND message_id = ANY(%s)"
)

# -- the command queue ------------------------------------------------------------------------

QUEUE_COLUMNS = (
    "id, command_type, payload, available_at, enqueued_at, metadata, key, status, attempts, "
    "updated_at, lease_until, outcome, error"
)
"""A queued command's columns, in the order of ``QueuedCommand``'s fields."""
ENQUEUE_COMMAND = (
    f"INSERT INTO eskit_command_queue ({QUEUE_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s::jsonb, %s) "
    "ON CONFLICT DO NOTHING"  # a stored id, or a key held by a live command
)
GET_QUEUED_COMMAND = f"SELECT {QUEUE_COLUMNS} FROM eskit_command_queue WHERE id = %s"
# The due commands are locked as they are chosen, skipping those another claimer holds, so
# claimers never wait on each other nor take one command twice. ARRAY(...) runs the choice
# once (an init plan), where a join on IN (...) might run it again.
CLAIM_COMMANDS = f"""
UPDATE eskit_command_queue
SET status = 'running', attempts = attempts + 1, lease_until = %(until)s, updated_at = %(now)s
WHERE id = ANY(ARRAY(
    SELECT id FROM eskit_command_queue
    WHERE (status = 'queued' AND available_at <= %(now)s)
       OR (status = 'running' AND lease_until < %(now)s)
    ORDER BY available_at, enqueued_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
))
RETURNING {QUEUE_COLUMNS}
"""
FINISH_COMMAND = (
    "UPDATE eskit_command_queue SET status = %s, outcome = %s::jsonb, lease_until = NULL, "
    "updated_at = %s WHERE id = %s AND status = 'running'"
)
RETRY_COMMAND = (
    "UPDATE eskit_command_queue SET status = 'queued', available_at = %s, error = %s, "
    "lease_until = NULL, updated_at = %s WHERE id = %s AND status = 'running'"
)
CANCEL_COMMAND = "DELETE FROM eskit_command_queue WHERE key = %s AND status = 'queued'"
QUEUE_DEPTH = """
SELECT count(*) FILTER (WHERE status = 'queued' AND available_at <= %(now)s),
       count(*) FILTER (WHERE status = 'running'),
       count(*) FILTER (WHERE status = 'queued' AND available_at > %(now)s),
       min(available_at) FILTER (WHERE status = 'queued' AND available_at <= %(now)s)
FROM eskit_command_queue WHERE status IN ('queued', 'running')
"""


def queue_query(status: str | None, limit: int) -> tuple[str, list[Any]]:
    """Up to ``limit`` queued commands (with ``status``, where given), oldest enqueued first."""
    sql = f"SELECT {QUEUE_COLUMNS} FROM eskit_command_queue"
    params: list[Any] = []
    if status is not None:
        sql += " WHERE status = %s"
        params.append(status)
    params.append(limit)
    return sql + " ORDER BY enqueued_at, id LIMIT %s", params


# -- saga instances -------------------------------------------------------------------------------

SAGA_COLUMNS = "saga, correlation_id, status, step, version, started_at, updated_at, state, reason"
"""A saga instance's columns, in the order of ``SagaRecord``'s fields."""
_SAGA_ROWS = (
    "unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], "
    "%s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[]) "
    "AS t(saga, correlation_id, status, step, version, started_at, updated_at, state, reason)"
)
"""Saga instances as one array per column (``SAGA_COLUMNS``), the state as JSON text."""
# Both statements return the instances they wrote: the others conflicted. A concurrent
# writer of one instance makes the other wait, then find the row (or its new version).
INSERT_SAGAS = f"""
INSERT INTO eskit_sagas ({SAGA_COLUMNS})
SELECT saga, correlation_id, status, step, version, started_at, updated_at, state::jsonb, reason
FROM {_SAGA_ROWS}
ON CONFLICT (saga, correlation_id) DO NOTHING
RETURNING saga, correlation_id
"""
UPDATE_SAGAS = f"""
UPDATE eskit_sagas AS s
SET status = t.status, step = t.step, version = t.version, started_at = t.started_at,
    updated_at = t.updated_at, state = t.state::jsonb, reason = t.reason
FROM {_SAGA_ROWS}
WHERE s.saga = t.saga AND s.correlation_id = t.correlation_id AND s.version = t.version - 1
RETURNING s.saga, s.correlation_id
"""
GET_SAGAS = f"SELECT {SAGA_COLUMNS} FROM eskit_sagas WHERE saga = %s AND correlation_id = ANY(%s)"
SAGA_COUNTS = "SELECT saga, status, count(*) FROM eskit_sagas GROUP BY saga, status"


def saga_query(
    saga: str | None, status: str | None, updated_before: datetime | None, limit: int
) -> tuple[str, list[Any]]:
    """Up to ``limit`` saga instances, filtered where given, least recently updated first."""
    terms, params = [], list[Any]()
    for condition, value in (
        ("saga = %s", saga),
        ("status = %s", status),
        ("updated_at < %s", updated_before),
    ):
        if value is not None:
            terms.append(condition)
            params.append(value)
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    params.append(limit)
    order = " ORDER BY updated_at, saga, correlation_id LIMIT %s"
    return f"SELECT {SAGA_COLUMNS} FROM eskit_sagas{where}{order}", params


# -- leases ---------------------------------------------------------------------------------------

LEASE_COLUMNS = "name, holder, host, pid, acquired_at, beat_at, expires_at"
"""A lease's columns, in the order of ``Lease``'s fields."""
# The database's clock, read once per statement, so that hosts' clocks do not matter. A
# concurrent acquirer of the same name waits on the row (or on the key of a new one), then
# judges it as the winner left it: of many, one takes it. Nothing returned: held by another.
ACQUIRE_LEASE = f"""
INSERT INTO eskit_leases AS l ({LEASE_COLUMNS})
SELECT %s, %s, %s, %s, t.now, t.now, t.now + make_interval(secs => %s)
FROM (SELECT clock_timestamp() AS now) AS t
ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder, host = excluded.host, pid = excluded.pid,
    acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at
        ELSE excluded.acquired_at END,
    beat_at = excluded.beat_at, expires_at = excluded.expires_at
WHERE l.holder = excluded.holder OR l.expires_at <= excluded.beat_at
RETURNING {LEASE_COLUMNS}, false
"""
LEASES = f"""
SELECT {LEASE_COLUMNS}, expires_at <= clock_timestamp() FROM eskit_leases
WHERE %s::text[] IS NULL OR name = ANY(%s::text[]) ORDER BY name
"""
RELEASE_LEASE = "DELETE FROM eskit_leases WHERE name = %s AND holder = %s"


# -- read models: schema ------------------------------------------------------------------------

TABLE_EXISTS = "SELECT to_regclass(%s) IS NOT NULL"
GUARD = "SELECT pg_advisory_xact_lock(hashtext(%s))"
_TYPES: dict[type, str] = {
    str: 'text COLLATE "C"',  # code-point order, as everywhere else
    int: "bigint",
    float: "double precision",
    bool: "boolean",
    datetime: "timestamptz",
    dict: "jsonb",
    list: "jsonb",
}


def column_type(kind: type) -> str:
    """The column type that holds values of ``kind``."""
    return _TYPES[kind]


def placeholder(kind: type) -> str:
    """The parameter marker for a value of ``kind`` (JSON text is cast)."""
    return "%s::jsonb" if kind is dict or kind is list else "%s"


def drop_table(table: str) -> str:
    """Drop ``table`` (if it exists)."""
    return f"DROP TABLE IF EXISTS {table}"


def rename_table(table: str, to: str) -> str:
    """Rename ``table``."""
    return f"ALTER TABLE {table} RENAME TO {to}"


def lock_table(table: str) -> str:
    """Keep every other reader and writer of ``table`` out until the transaction ends."""
    return f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"


def index_name(base: str, label: str, suffix: str) -> str:
    """An index (or constraint) name unique to one creation of ``base``.

    The random suffix lets a rebuild's shadow table be renamed over the live one without
    its indexes clashing; the base is cut so the name fits PostgreSQL's 63 characters.
    """
    return f"ix_{base[:40]}_{label}_{suffix}"


def order_term(column: str, descending: bool) -> str:
    """An ORDER BY term with NULLs last in both directions."""
    return f"{column} {'DESC' if descending else 'ASC'} NULLS LAST"


def where_equal(
    columns: Mapping[str, Any], convert: Any, kinds: Mapping[str, type]
) -> tuple[str, list[Any]]:
    """`` WHERE a = %s AND b IS NULL`` for ``columns`` (values converted by ``convert``)."""
    terms, params = [], []
    for column, value in columns.items():
        if value is None:
            terms.append(f"{column} IS NULL")
        else:
            terms.append(f"{column} = {placeholder(kinds[column])}")
            params.append(convert(kinds[column], value))
    return (f" WHERE {' AND '.join(terms)}" if terms else ""), params


# -- read models: tables ------------------------------------------------------------------------


def create_table(
    base: str,
    columns: Mapping[str, type],
    key: Sequence[str],
    indexes: Sequence[Sequence[str]],
    suffix: str,
) -> list[str]:
    """The table ``base`` with its primary key and indexes."""
    defined = ", ".join(
        f"{c} {column_type(kind)}{' NOT NULL' if c in key else ''}" for c, kind in columns.items()
    )
    pk = f"CONSTRAINT {index_name(base, 'pk', suffix)} PRIMARY KEY ({', '.join(key)})"
    created = [f"CREATE TABLE {base} ({defined}, {pk})"]
    for number, index in enumerate(indexes):
        name = index_name(base, str(number), suffix)
        created.append(f"CREATE INDEX {name} ON {base} ({', '.join(index)})")
    return created


def rows_by_key(base: str, columns: Sequence[str], key: Sequence[str], count: int) -> str:
    """The rows with ``count`` given keys."""
    if len(key) == 1:
        condition = f"{key[0]} = ANY(%s)"
    else:
        row = f"({', '.join(['%s'] * len(key))})"
        condition = f"({', '.join(key)}) IN (VALUES {', '.join([row] * count)})"
    return f"SELECT {', '.join(columns)} FROM {base} WHERE {condition}"


def upsert_rows(base: str, columns: Mapping[str, type], key: Sequence[str]) -> str:
    """Insert a row, or replace every column of the row with its key."""
    others = [c for c in columns if c not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
        if others
        else "DO NOTHING"
    )
    marks = ", ".join(placeholder(kind) for kind in columns.values())
    return (
        f"INSERT INTO {base} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) {action}"
    )


def delete_rows(base: str, key: Sequence[str]) -> str:
    """Delete the row with one key."""
    return f"DELETE FROM {base} WHERE {' AND '.join(f'{c} = %s' for c in key)}"


def select_rows(base: str, columns: Sequence[str], where: str, order: Sequence[str]) -> str:
    """A page of rows (LIMIT and OFFSET parameters last)."""
    return (
        f"SELECT {', '.join(columns)} FROM {base}{where} "
        f"ORDER BY {', '.join(order)} LIMIT %s OFFSET %s"
    )


def count_rows(base: str, where: str) -> str:
    """How many rows match."""
    return f"SELECT count(*) FROM {base}{where}"


# -- read models: documents ----------------------------------------------------------------------


def create_documents(base: str) -> str:
    """A collection's table."""
    return (
        f"CREATE TABLE {base} (id TEXT PRIMARY KEY, version INTEGER NOT NULL, body jsonb NOT NULL)"
    )


def documents_by_id(base: str) -> str:
    """The documents with the given ids (one array parameter)."""
    return f"SELECT id, version, body FROM {base} WHERE id = ANY(%s)"


def all_documents(base: str) -> str:
    """Every document."""
    return f"SELECT id, version, body FROM {base} ORDER BY id"


def count_documents(base: str) -> str:
    """How many documents."""
    return f"SELECT count(*) FROM {base}"


def update_document(base: str) -> str:
    """Replace a document's body if it is still at the version read (body, id, version)."""
    return (
        f"UPDATE {base} SET body = %s::jsonb, version = version + 1 WHERE id = %s AND version = %s"
    )


def delete_document(base: str) -> str:
    """Delete a document if it is still at the version read (id, version)."""
    return f"DELETE FROM {base} WHERE id = %s AND version = %s"


def insert_document(base: str) -> str:
    """Create a document at version 1 unless one exists (id, body)."""
    return (
        f"INSERT INTO {base} (id, version, body) VALUES (%s, 1, %s::jsonb) "
        "ON CONFLICT (id) DO NOTHING"
    )


# -- read models: search indexes ----------------------------------------------------------------
# The documents live in ``base``. ``base_fts`` holds a tsvector of their words, each tagged
# with its field (``email:alice``), so that one GIN index serves both all-field and
# one-field searches; lexemes are built in Python (``array_to_tsvector``, a ``::tsquery``
# parameter) rather than by the server's text parser, whose idea of a word differs from
# other backends' and from locale to locale. For substring search ``base_trgm`` holds each
# text field's words joined by spaces, one column per field, with a ``gin_trgm_ops`` index
# (``pg_trgm``), searched with ``LIKE '%word%'``: the text is lower-cased already, and as a
# query word holds no space it can only match inside one word.


def create_search(
    base: str,
    text_fields: Sequence[str],
    columns: Mapping[str, type],
    sort_fields: Sequence[str],
    suffix: str,
) -> list[str]:
    """A search index's three tables."""
    typed = "".join(f", {c} {column_type(kind)}" for c, kind in columns.items())
    texts = "".join(f', {field} text COLLATE "C" NOT NULL' for field in text_fields)
    trigrams = ", ".join(f"{field} gin_trgm_ops" for field in text_fields)
    return [
        f'CREATE TABLE {base} (id text COLLATE "C" NOT NULL, body jsonb NOT NULL{typed}, '
        f"CONSTRAINT {index_name(base, 'pk', suffix)} PRIMARY KEY (id))",
        *(
            f"CREATE INDEX {index_name(base, str(n), suffix)} ON {base} ({field}, id)"
            for n, field in enumerate(sort_fields)
        ),
        f'CREATE TABLE {base}_fts (id text COLLATE "C" NOT NULL, words tsvector NOT NULL, '
        f"CONSTRAINT {index_name(base, 'fpk', suffix)} PRIMARY KEY (id))",
        f"CREATE INDEX {index_name(base, 'words', suffix)} ON {base}_fts USING gin (words)",
        f'CREATE TABLE {base}_trgm (id text COLLATE "C" NOT NULL{texts}, '
        f"CONSTRAINT {index_name(base, 'tpk', suffix)} PRIMARY KEY (id))",
        # one multicolumn GIN index serves a search of any one field or of them all
        f"CREATE INDEX {index_name(base, 'trgm', suffix)} ON {base}_trgm USING gin ({trigrams})",
    ]


def search_bodies(base: str) -> str:
    """The bodies of the given documents (one array parameter)."""
    return f"SELECT id, body FROM {base} WHERE id = ANY(%s)"


def delete_by_id(table: str) -> str:
    """Delete one document's row of ``table``."""
    return f"DELETE FROM {table} WHERE id = %s"


def upsert_search_document(base: str, columns: Mapping[str, type]) -> str:
    """Insert or replace a document's row: id, body, then ``columns``."""
    names = ["id", "body", *columns]
    marks = ["%s", "%s::jsonb", *(placeholder(kind) for kind in columns.values())]
    changes = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    return (
        f"INSERT INTO {base} ({', '.join(names)}) VALUES ({', '.join(marks)}) "
        f"ON CONFLICT (id) DO UPDATE SET {changes}"
    )


def upsert_words(base: str) -> str:
    """A document's tagged words (id, lexemes)."""
    return (
        f"INSERT INTO {base}_fts (id, words) VALUES (%s, array_to_tsvector(%s::text[])) "
        "ON CONFLICT (id) DO UPDATE SET words = excluded.words"
    )


def upsert_trigrams(base: str, text_fields: Sequence[str]) -> str:
    """A document's words per text field, for substring search (id, then the fields)."""
    marks = ", ".join(["%s"] * len(text_fields))
    changes = ", ".join(f"{f} = excluded.{f}" for f in text_fields)
    return (
        f"INSERT INTO {base}_trgm (id, {', '.join(text_fields)}) VALUES (%s, {marks}) "
        f"ON CONFLICT (id) DO UPDATE SET {changes}"
    )


def search_source(base: str, query: SearchQuery) -> tuple[str, list[Any]]:
    """The FROM and WHERE of a search, and their parameters."""
    source = f"FROM {base} AS m"
    if not query.words:
        return source, []
    if query.match == "substring":
        likes = " OR ".join(f"t.{f} LIKE %s ESCAPE '\\'" for f in query.fields)
        where = " AND ".join([f"({likes})"] * len(query.words))
        params = [like_pattern(word) for word in query.words for _ in query.fields]
        return f"{source} JOIN {base}_trgm AS t ON t.id = m.id WHERE {where}", params
    tsquery = ts_query(query.words, query.fields, query.match)
    return f"{source} JOIN {base}_fts AS f ON f.id = m.id WHERE f.words @@ %s::tsquery", [tsquery]


def ts_query(words: Sequence[str], fields: Sequence[str], match: Match) -> str:
    """A tsquery: every word, as a tagged lexeme of any of ``fields``."""
    star = ":*" if match == "prefix" else ""
    return " & ".join(
        "(" + " | ".join(f"{_quote(f'{field}:{word}')}{star}" for field in fields) + ")"
        for word in words
    )


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def like_pattern(word: str) -> str:
    """``%word%`` for ``LIKE ... ESCAPE '\\'``, with ``word``'s wildcards taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_page(source: str, order: Sequence[str]) -> str:
    """One page of matching bodies with the number of matches (LIMIT, OFFSET last)."""
    return (
        f"SELECT m.body, count(*) OVER () {source} ORDER BY {', '.join(order)} LIMIT %s OFFSET %s"
    )


def search_count(source: str) -> str:
    """The number of matches."""
    return f"SELECT count(*) {source}"
