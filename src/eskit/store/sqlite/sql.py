"""Every SQL statement of the SQLite store, and the builders of the dynamic ones.

Placeholders are ``?``. Table and column names spliced in are plain identifiers, checked
by the read-model toolkit before they get here. Times are ISO-8601 UTC text with
microseconds (fixed width, so text order is time order).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from eskit.store.rows import Match, SearchQuery

# -- the event log ---------------------------------------------------------------------------

EVENT_COLUMNS = (
    "position, stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at"
)
PAYLOAD_COLUMNS = "position, version, event_type, schema_version, data"

INSERT_EVENT = (
    "INSERT INTO eskit_events (stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# the stream's last event gives its version, its position and its type in one index probe
LAST_OF_STREAM = (
    "SELECT version, position, stream_type FROM eskit_events WHERE stream_id = ? "
    "ORDER BY version DESC LIMIT 1"
)
LAST_INSERTED = "SELECT last_insert_rowid()"
STREAM_VERSION = "SELECT coalesce(max(version), 0) FROM eskit_events WHERE stream_id = ?"
# committed writes are visible to readers at once: the head is the last row
HEAD = "SELECT coalesce(max(position), 0) FROM eskit_events"
LIST_STREAMS = (
    "SELECT s.stream_id, s.stream_type, s.recorded_at, s.position, "
    "(SELECT max(version) FROM eskit_events e WHERE e.stream_id = s.stream_id), "
    "(SELECT recorded_at FROM eskit_events e WHERE e.stream_id = s.stream_id "
    " ORDER BY version DESC LIMIT 1) "
    "FROM eskit_events s WHERE s.version = 1 AND s.position > ?"
)

# -- browsing, newest first (eskit.store.browsing): keyset pages on the partial indexes of
# first events, so no page scans the log
STREAM_TYPES = (
    "SELECT stream_type, count(*) FROM eskit_events INDEXED BY eskit_events_type_starts "
    "WHERE version = 1 GROUP BY stream_type ORDER BY stream_type"
)
LATEST_STREAMS = (
    "SELECT s.stream_id, s.stream_type, s.recorded_at, s.position, "
    "(SELECT max(version) FROM eskit_events e WHERE e.stream_id = s.stream_id), "
    "(SELECT recorded_at FROM eskit_events e WHERE e.stream_id = s.stream_id "
    " ORDER BY version DESC LIMIT 1) "
    "FROM eskit_events s WHERE s.version = 1 AND s.position < ?"
)
LATEST_EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM eskit_events WHERE position < ? ORDER BY position DESC LIMIT ?"
)


def events_by_id(count: int) -> str:
    """The events with ``count`` given ids."""
    return f"SELECT {EVENT_COLUMNS} FROM eskit_events WHERE event_id IN ({_marks(count)})"


def stream_query(
    columns: str,
    stream_id: str,
    from_version: int,
    to_version: int | None,
    until: str | None,
) -> tuple[str, list[Any]]:
    """One stream in version order, bounded by version or record time (ISO text)."""
    sql = f"SELECT {columns} FROM eskit_events WHERE stream_id = ? AND version >= ?"
    params: list[Any] = [stream_id, from_version]
    if to_version is not None:
        sql += " AND version <= ?"
        params.append(to_version)
    if until is not None:
        sql += " AND recorded_at <= ?"
        params.append(until)
    return sql + " ORDER BY version", params


def _filters(
    stream_types: Collection[str] | None, event_types: Collection[str] | None, params: list[Any]
) -> str:
    sql = ""
    for column, values in (("stream_type", stream_types), ("event_type", event_types)):
        if values is not None:
            values = list(values)
            sql += f" AND {column} IN ({_marks(len(values))})"
            params.extend(values)
    return sql


def log_query(
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> tuple[str, list[Any]]:
    """Up to ``limit`` events after ``after`` in position order, filtered."""
    params: list[Any] = [after]
    sql = f"SELECT {EVENT_COLUMNS} FROM eskit_events WHERE position > ?"
    sql += _filters(stream_types, event_types, params)
    params.append(limit)
    return sql + " ORDER BY position LIMIT ?", params


def count_query(
    after: int,
    up_to: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> tuple[str, list[Any]]:
    """How many events lie in ``(after, up_to]``, and the oldest record time among them."""
    params: list[Any] = [after, up_to]
    sql = "SELECT count(*), min(recorded_at) FROM eskit_events WHERE position > ? AND position <= ?"
    return sql + _filters(stream_types, event_types, params), params


# -- snapshots and command outcomes -------------------------------------------------------------

SAVE_SNAPSHOT = (
    "INSERT INTO eskit_snapshots VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (stream_id) DO UPDATE SET stream_type = excluded.stream_type, "
    "version = excluded.version, schema_version = excluded.schema_version, "
    "state = excluded.state, recorded_at = excluded.recorded_at "
    "WHERE excluded.version >= eskit_snapshots.version"
)
LOAD_SNAPSHOT = (
    "SELECT stream_id, stream_type, version, schema_version, state, recorded_at "
    "FROM eskit_snapshots WHERE stream_id = ?"
)
RECORD_OUTCOME = (
    "INSERT INTO eskit_command_outcomes VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (command_id) DO NOTHING"
)
FIND_OUTCOME = (
    "SELECT command_id, stream_id, version, position, fingerprint, recorded_at "
    "FROM eskit_command_outcomes WHERE command_id = ?"
)

# -- migrations ------------------------------------------------------------------------------------

CREATE_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS eskit_migrations ("
    "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
APPLIED_MIGRATIONS = "SELECT number FROM eskit_migrations"
RECORD_MIGRATION = "INSERT INTO eskit_migrations VALUES (?, ?, ?)"


def statements(script: str) -> list[str]:
    """A migration script's statements (our scripts hold no ';' inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


# -- checkpoints, parked events, processed messages ---------------------------------------------

CHECKPOINT_COLUMNS = "name, position, updated_at, error, error_position, error_count, error_at"
GET_CHECKPOINT = f"SELECT {CHECKPOINT_COLUMNS} FROM eskit_checkpoints WHERE name = ?"
ALL_CHECKPOINTS = f"SELECT {CHECKPOINT_COLUMNS} FROM eskit_checkpoints ORDER BY name"
ADVANCE_CHECKPOINT = (
    "UPDATE eskit_checkpoints SET position = ?, updated_at = ?, error = NULL, "
    "error_position = NULL, error_count = 0, error_at = NULL WHERE name = ? AND position = ?"
)
CREATE_CHECKPOINT = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO NOTHING"
)
RESET_CHECKPOINT = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at, error = NULL, error_position = NULL, "
    "error_count = 0, error_at = NULL"
)
DELETE_CHECKPOINT = "DELETE FROM eskit_checkpoints WHERE name = ?"
RECORD_ERROR = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at, error, error_position, "
    "error_count, error_at) VALUES (?, 0, ?, ?, ?, 1, ?) "
    "ON CONFLICT (name) DO UPDATE SET error = excluded.error, "
    "error_position = excluded.error_position, error_at = excluded.error_at, "
    "error_count = eskit_checkpoints.error_count + 1"
)

DEAD_LETTER_COLUMNS = "projection, position, event_id, stream_id, event_type, error, parked_at"
PARK = (
    f"INSERT INTO eskit_dead_letters ({DEAD_LETTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (projection, position) DO NOTHING"
)
UNPARK = "DELETE FROM eskit_dead_letters WHERE projection = ? AND position = ?"
PARKED_POSITIONS = "SELECT position FROM eskit_dead_letters WHERE projection = ?"
ALL_DEAD_LETTERS = f"SELECT {DEAD_LETTER_COLUMNS} FROM eskit_dead_letters"
ORDER_DEAD_LETTERS = " ORDER BY projection, position"

RECORD_PROCESSED = (
    "INSERT INTO eskit_processed_messages (consumer, message_id, processed_at) "
    "VALUES (?, ?, ?) ON CONFLICT (consumer, message_id) DO NOTHING"
)
CONSUMER_STREAM_VERSION = (
    "SELECT version FROM eskit_consumer_streams WHERE consumer = ? AND stream_id = ?"
)
RECORD_CONSUMER_STREAM_VERSION = (
    "INSERT INTO eskit_consumer_streams (consumer, stream_id, version) VALUES (?, ?, ?) "
    "ON CONFLICT (consumer, stream_id) "
    "DO UPDATE SET version = MAX(eskit_consumer_streams.version, excluded.version)"
)
SEEN_MESSAGE = "SELECT 1 FROM eskit_processed_messages WHERE consumer = ? AND message_id = ?"

# -- the command queue ------------------------------------------------------------------------
# The writer is single: a unit of work claims without racing anyone, so reading the due
# commands and then marking them claimed is safe.

QUEUE_COLUMNS = (
    "id, command_type, payload, available_at, enqueued_at, metadata, key, status, attempts, "
    "updated_at, lease_until, outcome, error"
)
"""A queued command's columns, in the order of ``QueuedCommand``'s fields."""
ENQUEUE_COMMAND = (
    f"INSERT INTO eskit_command_queue ({QUEUE_COLUMNS}) VALUES ({', '.join('?' * 13)}) "
    "ON CONFLICT DO NOTHING"  # a stored id, or a key held by a live command
)
GET_QUEUED_COMMAND = f"SELECT {QUEUE_COLUMNS} FROM eskit_command_queue WHERE id = ?"
DUE_COMMANDS = (
    f"SELECT {QUEUE_COLUMNS} FROM eskit_command_queue "
    "WHERE (status = 'queued' AND available_at <= ?) OR (status = 'running' AND lease_until < ?) "
    "ORDER BY available_at, enqueued_at, id LIMIT ?"
)
CLAIM_COMMAND = (
    "UPDATE eskit_command_queue SET status = 'running', attempts = attempts + 1, "
    "lease_until = ?, updated_at = ? WHERE id = ?"
)
FINISH_COMMAND = (
    "UPDATE eskit_command_queue SET status = ?, outcome = ?, lease_until = NULL, updated_at = ? "
    "WHERE id = ? AND status = 'running'"
)
RETRY_COMMAND = (
    "UPDATE eskit_command_queue SET status = 'queued', available_at = ?, error = ?, "
    "lease_until = NULL, updated_at = ? WHERE id = ? AND status = 'running'"
)
CANCEL_COMMAND = "DELETE FROM eskit_command_queue WHERE key = ? AND status = 'queued'"
QUEUE_DEPTH = (
    "SELECT coalesce(sum(status = 'queued' AND available_at <= ?), 0), "
    "coalesce(sum(status = 'running'), 0), "
    "coalesce(sum(status = 'queued' AND available_at > ?), 0), "
    "min(CASE WHEN status = 'queued' AND available_at <= ? THEN available_at END) "
    "FROM eskit_command_queue WHERE status IN ('queued', 'running')"
)


def queue_query(status: str | None, limit: int) -> tuple[str, list[Any]]:
    """Up to ``limit`` queued commands (with ``status``, where given), oldest enqueued first."""
    sql = f"SELECT {QUEUE_COLUMNS} FROM eskit_command_queue"
    params: list[Any] = []
    if status is not None:
        sql += " WHERE status = ?"
        params.append(status)
    params.append(limit)
    return sql + " ORDER BY enqueued_at, id LIMIT ?", params


# -- saga instances -------------------------------------------------------------------------------

SAGA_COLUMNS = "saga, correlation_id, status, step, version, started_at, updated_at, state, reason"
"""A saga instance's columns, in the order of ``SagaRecord``'s fields."""
INSERT_SAGA = (
    f"INSERT INTO eskit_sagas ({SAGA_COLUMNS}) VALUES ({', '.join('?' * 9)}) "
    "ON CONFLICT (saga, correlation_id) DO NOTHING"
)
UPDATE_SAGA = (
    "UPDATE eskit_sagas SET status = ?, step = ?, version = ?, started_at = ?, updated_at = ?, "
    "state = ?, reason = ? WHERE saga = ? AND correlation_id = ? AND version = ?"
)
GET_SAGA = f"SELECT {SAGA_COLUMNS} FROM eskit_sagas WHERE saga = ? AND correlation_id = ?"
SAGA_COUNTS = "SELECT saga, status, count(*) FROM eskit_sagas GROUP BY saga, status"


def saga_query(
    saga: str | None, status: str | None, updated_before: str | None, limit: int
) -> tuple[str, list[Any]]:
    """Up to ``limit`` saga instances, filtered where given, least recently updated first."""
    terms, params = [], list[Any]()
    for condition, value in (
        ("saga = ?", saga),
        ("status = ?", status),
        ("updated_at < ?", updated_before),
    ):
        if value is not None:
            terms.append(condition)
            params.append(value)
    where = f" WHERE {' AND '.join(terms)}" if terms else ""
    params.append(limit)
    order = " ORDER BY updated_at, saga, correlation_id LIMIT ?"
    return f"SELECT {SAGA_COLUMNS} FROM eskit_sagas{where}{order}", params


# -- leases ---------------------------------------------------------------------------------------

LEASE_COLUMNS = "name, holder, host, pid, acquired_at, beat_at, expires_at"
"""A lease's columns, in the order of ``Lease``'s fields."""
# taken if free, expired (by the time given) or the holder's own (renewed: since stays)
ACQUIRE_LEASE = f"""
INSERT INTO eskit_leases ({LEASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder, host = excluded.host, pid = excluded.pid,
    acquired_at = CASE WHEN eskit_leases.holder = excluded.holder
        THEN eskit_leases.acquired_at ELSE excluded.acquired_at END,
    beat_at = excluded.beat_at, expires_at = excluded.expires_at
WHERE eskit_leases.holder = excluded.holder OR eskit_leases.expires_at <= excluded.beat_at
"""
GET_LEASE = f"SELECT {LEASE_COLUMNS}, expires_at <= ? FROM eskit_leases WHERE name = ?"
ALL_LEASES = f"SELECT {LEASE_COLUMNS}, expires_at <= ? FROM eskit_leases ORDER BY name"
RELEASE_LEASE = "DELETE FROM eskit_leases WHERE name = ? AND holder = ?"


# -- read models: schema ------------------------------------------------------------------------

TABLE_EXISTS = "SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')"
_TYPES: dict[type, str] = {
    str: "TEXT",
    int: "INTEGER",
    float: "REAL",
    bool: "INTEGER",
    datetime: "TEXT",
    dict: "TEXT",
    list: "TEXT",
}


def column_type(kind: type) -> str:
    """The column type that holds values of ``kind``."""
    return _TYPES[kind]


def drop_table(table: str) -> str:
    """Drop ``table`` (if it exists)."""
    return f"DROP TABLE IF EXISTS {table}"


def rename_table(table: str, to: str) -> str:
    """Rename ``table``."""
    return f"ALTER TABLE {table} RENAME TO {to}"


def index_name(base: str, label: str, suffix: str) -> str:
    """An index name unique to one creation of ``base`` (a rebuild's shadow table is later
    renamed over the live one, whose indexes keep their names)."""
    return f"ix_{base[:40]}_{label}_{suffix}"


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def order_term(column: str, descending: bool) -> str:
    """An ORDER BY term with NULLs last in both directions."""
    return f"{column} {'DESC' if descending else 'ASC'} NULLS LAST"


def where_equal(
    columns: Mapping[str, Any], convert: Any, kinds: Mapping[str, type]
) -> tuple[str, list[Any]]:
    """`` WHERE a = ? AND b IS NULL`` for ``columns`` (values converted by ``convert``)."""
    terms, params = [], []
    for column, value in columns.items():
        if value is None:
            terms.append(f"{column} IS NULL")
        else:
            terms.append(f"{column} = ?")
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
        condition = f"{key[0]} IN ({_marks(count)})"
    else:
        condition = f"({', '.join(key)}) IN (VALUES {', '.join([f'({_marks(len(key))})'] * count)})"
    return f"SELECT {', '.join(columns)} FROM {base} WHERE {condition}"


def upsert_rows(base: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """Insert a row, or replace every column of the row with its key."""
    others = [c for c in columns if c not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
        if others
        else "DO NOTHING"
    )
    return (
        f"INSERT INTO {base} ({', '.join(columns)}) VALUES ({_marks(len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) {action}"
    )


def delete_rows(base: str, key: Sequence[str]) -> str:
    """Delete the row with one key."""
    return f"DELETE FROM {base} WHERE {' AND '.join(f'{c} = ?' for c in key)}"


def select_rows(base: str, columns: Sequence[str], where: str, order: Sequence[str]) -> str:
    """A page of rows (LIMIT and OFFSET parameters last)."""
    return (
        f"SELECT {', '.join(columns)} FROM {base}{where} "
        f"ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"
    )


def count_rows(base: str, where: str) -> str:
    """How many rows match."""
    return f"SELECT count(*) FROM {base}{where}"


# -- read models: documents ----------------------------------------------------------------------


def create_documents(base: str) -> str:
    """A collection's table."""
    return (
        f"CREATE TABLE {base} (id TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)"
    )


def documents_by_id(base: str, count: int) -> str:
    """The documents with ``count`` given ids."""
    return f"SELECT id, version, body FROM {base} WHERE id IN ({_marks(count)})"


def all_documents(base: str) -> str:
    """Every document."""
    return f"SELECT id, version, body FROM {base} ORDER BY id"


def count_documents(base: str) -> str:
    """How many documents."""
    return f"SELECT count(*) FROM {base}"


def update_document(base: str) -> str:
    """Replace a document's body if it is still at the version read (body, id, version)."""
    return f"UPDATE {base} SET body = ?, version = version + 1 WHERE id = ? AND version = ?"


def delete_document(base: str) -> str:
    """Delete a document if it is still at the version read (id, version)."""
    return f"DELETE FROM {base} WHERE id = ? AND version = ?"


def insert_document(base: str) -> str:
    """Create a document at version 1 unless one exists (id, body)."""
    return f"INSERT INTO {base} (id, version, body) VALUES (?, 1, ?) ON CONFLICT (id) DO NOTHING"


# -- read models: search indexes ----------------------------------------------------------------
# The documents live in ``base`` (``seq`` is the FTS rows' rowid); the words of their text
# fields in the FTS5 table ``base_fts``; the same words, for substring search, in the FTS5
# table ``base_trgm`` with the case-sensitive trigram tokenizer (the text is lower-cased
# already, and folding it again, final sigma and the like, would match more than other
# backends do).


def create_search(
    base: str,
    text_fields: Sequence[str],
    columns: Mapping[str, type],
    sort_fields: Sequence[str],
    suffix: str,
) -> list[str]:
    """A search index's three tables."""
    typed = "".join(f", {c} {column_type(kind)}" for c, kind in columns.items())
    fields = ", ".join(text_fields)
    return [
        # seq is an alias of rowid, so VACUUM keeps it
        f"CREATE TABLE {base} (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL{typed})",
        f"CREATE UNIQUE INDEX {index_name(base, 'id', suffix)} ON {base} (id)",
        *(
            f"CREATE INDEX {index_name(base, str(n), suffix)} ON {base} ({field}, id)"
            for n, field in enumerate(sort_fields)
        ),
        f"CREATE VIRTUAL TABLE {base}_fts USING fts5({fields}, id UNINDEXED, "
        "tokenize = 'unicode61 remove_diacritics 0')",
        f"CREATE VIRTUAL TABLE {base}_trgm USING fts5({fields}, "
        "tokenize = 'trigram case_sensitive 1')",
    ]


def search_bodies(base: str, count: int) -> str:
    """The bodies of ``count`` given documents."""
    return f"SELECT id, body FROM {base} WHERE id IN ({_marks(count)})"


def forget_words(base: str, table: str) -> str:
    """Delete a document's words from ``table``, found through its row (which must exist)."""
    return f"DELETE FROM {table} WHERE rowid = (SELECT seq FROM {base} WHERE id = ?)"


def delete_search_document(base: str) -> str:
    """Delete a document's row."""
    return f"DELETE FROM {base} WHERE id = ?"


def upsert_search_document(base: str, columns: Sequence[str]) -> str:
    """Insert or replace a document's row: id, body, then ``columns``."""
    names = ["id", "body", *columns]
    changes = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    return (
        f"INSERT INTO {base} ({', '.join(names)}) VALUES ({_marks(len(names))}) "
        f"ON CONFLICT (id) DO UPDATE SET {changes}"
    )


def insert_words(base: str, table: str, text_fields: Sequence[str], with_id: bool) -> str:
    """Index a document's words under its row's ``seq`` (texts first, the id last)."""
    fields = ", ".join(text_fields)
    id_column = "id, " if with_id else ""
    return (
        f"INSERT INTO {table} (rowid, {id_column}{fields}) "
        f"SELECT seq, {id_column}{_marks(len(text_fields))} FROM {base} WHERE id = ?"
    )


def search_source(base: str, query: SearchQuery) -> tuple[str, list[Any]]:
    """The FROM and WHERE of a search, and their parameters."""
    source = f"FROM {base} AS m"
    if not query.words:
        return source, []
    table = f"{base}_trgm" if query.match == "substring" else f"{base}_fts"
    field = query.fields[0] if len(query.fields) == 1 else None
    match = fts5_match(query.words, field, query.match)
    return f"{source} JOIN {table} ON {table}.rowid = m.seq WHERE {table} MATCH ?", [match]


def fts5_match(words: Sequence[str], field: str | None, match: Match) -> str:
    """An FTS5 MATCH expression: each word a quoted string, so never an operator.

    Without a column filter a phrase may match in any indexed column: the text fields (the
    ``_fts`` table's ``id`` is unindexed, the ``_trgm`` table has only text fields).
    """
    column = f"{{{field}}} : " if field else ""
    star = "*" if match == "prefix" else ""
    return " AND ".join(f'{column}"{word.replace(chr(34), chr(34) * 2)}"{star}' for word in words)


def search_page(source: str, order: Sequence[str]) -> str:
    """One page of matching bodies with the number of matches (LIMIT, OFFSET last)."""
    return f"SELECT m.body, count(*) OVER () {source} ORDER BY {', '.join(order)} LIMIT ? OFFSET ?"


def search_count(source: str) -> str:
    """The number of matches."""
    return f"SELECT count(*) {source}"
