"""The SQLite unit of work, and committed reads of what it writes.

A :class:`SQLiteUnitOfWork` works on the connection the writer thread lent it (see
``writer.Handover``): its statements run at once, on the event loop's thread, inside the
writer's transaction, and nothing of it is visible to readers until the writer commits.
:class:`SQLiteCommitted` reads the same tables on reader threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TypeVar

from eskit.domain.events import Event
from eskit.store.encoding import MAX_EVENTS_PER_APPEND, encode_events
from eskit.store.expected import validate_expected_version
from eskit.store.records import (
    AppendResult,
    ExpectedVersion,
    LogPage,
    Metadata,
    NewEvent,
    StoredEvent,
)
from eskit.store.sqlite import log, sql
from eskit.store.sqlite.bookkeeping import SQLiteCheckpoints, SQLiteDeadLetters, SQLiteInbox
from eskit.store.sqlite.leases import SQLiteLeases
from eskit.store.sqlite.queue import SQLiteQueue
from eskit.store.sqlite.rows import (
    Runner,
    SQLiteDocuments,
    SQLiteRawSQL,
    SQLiteSchema,
    SQLiteSearch,
    SQLiteTables,
)
from eskit.store.sqlite.sagas import SQLiteSagas
from eskit.store.sqlite.values import now

__all__ = ["SQLiteCommitted", "SQLiteUnitOfWork"]

T = TypeVar("T")


class _Parts:
    """Read models and bookkeeping over one runner."""

    def __init__(self, run: Runner) -> None:
        self.tables = SQLiteTables(run)
        self.documents = SQLiteDocuments(run)
        self.search = SQLiteSearch(run)
        self.schema = SQLiteSchema(run)
        self.checkpoints = SQLiteCheckpoints(run)
        self.dead_letters = SQLiteDeadLetters(run)
        self.sql = SQLiteRawSQL(run)
        self.queue = SQLiteQueue(run)
        self.sagas = SQLiteSagas(run)
        self.leases = SQLiteLeases(run)


class SQLiteCommitted(_Parts):
    """See ``eskit.store.unit_of_work.CommittedRows``: read on reader threads."""

    def __init__(self, run: Runner) -> None:
        super().__init__(run)
        self.inbox = SQLiteInbox(run)


class SQLiteUnitOfWork(_Parts):
    """See ``eskit.store.unit_of_work.UnitOfWork``."""

    def __init__(self, conn: sqlite3.Connection, owner: object) -> None:
        self._conn = conn
        self.owner = owner
        """The store whose writer this unit of work holds."""
        self.open = True
        self.last_position = 0
        """The position of the last event appended (0: none), to wake readers after commit."""
        self._events = 0
        super().__init__(self._run)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._conn)

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See UnitOfWork.append: in a savepoint, so a refused append leaves no trace."""
        validate_expected_version(expected_version)
        batch = encode_events(events, metadata)
        if self._events + len(batch) > MAX_EVENTS_PER_APPEND:
            raise ValueError(
                f"a transaction holds at most {MAX_EVENTS_PER_APPEND} events, "
                f"this one would hold {self._events + len(batch)}"
            )
        conn = self._conn
        conn.execute("SAVEPOINT eskit_append")
        try:
            result = log.append(conn, stream_id, batch, expected_version, stream_type)
        except BaseException:
            _roll_back_to(conn, "eskit_append")
            raise
        if result.deduplicated or not batch:
            _roll_back_to(conn, "eskit_append")  # whatever part of a repeat got in
            return result
        conn.execute("RELEASE eskit_append")
        self._events += len(batch)
        self.last_position = max(self.last_position, result.position)
        return result

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
        visible_only: bool = True,
    ) -> LogPage:
        """See UnitOfWork.read_page: every committed write is visible on SQLite."""
        return log.read_page(self._conn, after, limit, stream_types, event_types)

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """See UnitOfWork.read_stream."""
        return log.read_stream(self._conn, stream_id, from_version, to_version)

    async def record_processed(self, consumer: str, message_ids: Sequence[str]) -> list[str]:
        """See UnitOfWork.record_processed."""
        at = now()
        execute = self._conn.execute
        return [
            message_id
            for message_id in dict.fromkeys(message_ids)
            if execute(sql.RECORD_PROCESSED, (consumer, message_id, at)).rowcount
        ]

    async def stream_versions(self, consumer: str, stream_ids: Collection[str]) -> dict[str, int]:
        """See UnitOfWork.stream_versions."""
        execute = self._conn.execute
        found = {
            s: execute(sql.CONSUMER_STREAM_VERSION, (consumer, s)).fetchone() for s in stream_ids
        }
        return {stream: row[0] for stream, row in found.items() if row is not None}

    async def record_stream_versions(self, consumer: str, versions: Mapping[str, int]) -> None:
        """See UnitOfWork.record_stream_versions."""
        self._conn.executemany(
            sql.RECORD_CONSUMER_STREAM_VERSION, [(consumer, s, v) for s, v in versions.items()]
        )


def _roll_back_to(conn: sqlite3.Connection, savepoint: str) -> None:
    conn.execute(f"ROLLBACK TO {savepoint}")
    conn.execute(f"RELEASE {savepoint}")
