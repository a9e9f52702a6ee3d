"""Inline projections: read models updated in the same transaction as the append.

Wrap the store; hand the wrapper to the repository or command handler. Every append then
runs the inline projections' handlers on the new events before the commit, so a query right
after a command sees its effect, and a handler that raises refuses the whole append (the
command fails; nothing is half-written). Reads of the read model inside handlers see the
transaction's own writes. Use it for small, cheap read models; the rest belong to
asynchronous runners.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any

from eskit.domain.events import Event
from eskit.projections.checkpoints import sql_for
from eskit.projections.database import read_database
from eskit.projections.log import COLUMNS, records
from eskit.projections.projection import Projection, ProjectionContext
from eskit.projections.schema import ensure_tables
from eskit.projections.session import PostgresSession, Session, SQLiteSession, drive
from eskit.store.port import EventStoreBackend
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
from eskit.store.sqlite_writer import Discard

__all__ = ["InlineProjections"]


class InlineProjections:
    """An event store whose appends also run ``projections`` inside their transaction."""

    def __init__(self, store: EventStoreBackend, projections: Sequence[Projection]) -> None:
        self.store = store
        self.projections = list(projections)
        self.db = read_database(store)
        self.appended = self.db.signal

    async def prepare(self) -> None:
        """Create the inline read models' tables if they are missing."""
        for projection in self.projections:
            await ensure_tables(self.db, projection.read_models)

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See EventStore.append; the inline projections commit with the events."""
        args = (stream_id, events, expected_version, stream_type, metadata)
        if self.db.dialect == "sqlite":
            store: Any = self.store

            def work(conn: Any) -> AppendResult:
                outcome = drive(self._append(SQLiteSession(conn), conn, *args))
                if outcome.deduplicated:
                    raise Discard(outcome)  # roll back whatever part of a retry got in
                return outcome

            result: AppendResult = await store.write(work)
            if not result.deduplicated:
                self.appended.fire(result.position)
            return result
        pg: Any = self.store
        async with pg.connection() as conn, conn.transaction():
            result = await self._append(PostgresSession(conn), conn, *args)
        if not result.deduplicated:
            pg.committed(result.position)
        return result

    async def _append(
        self,
        session: Session,
        conn: Any,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        expected_version: ExpectedVersion,
        stream_type: str,
        metadata: Metadata | None,
    ) -> AppendResult:
        store: Any = self.store
        appended = store.append_within(
            conn,
            stream_id,
            events,
            expected_version=expected_version,
            stream_type=stream_type,
            metadata=metadata,
        )
        result, batch = appended if session.dialect == "sqlite" else await appended
        if result.deduplicated or not batch:
            return result  # type: ignore[no-any-return]
        records = await _written(session, stream_id, result.version - len(batch), result.version)
        for projection in self.projections:
            mine = _for(projection, records)
            if mine:
                await projection.handle_batch(ProjectionContext(session), mine)
        return result  # type: ignore[no-any-return]

    # -- everything else is the wrapped store's ----------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_stream."""
        return await self.store.read_stream(
            stream_id, from_version=from_version, to_version=to_version, until=until
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
        return await self.store.read_payloads(
            stream_id, from_version=from_version, to_version=to_version, until=until
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
        return await self.store.read_batch(
            after=after, limit=limit, stream_types=stream_types, event_types=event_types
        )

    def read_all(
        self,
        *,
        after: int = 0,
        batch_size: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> AsyncIterator[StoredEvent]:
        """See EventStore.read_all."""
        return self.store.read_all(
            after=after, batch_size=batch_size, stream_types=stream_types, event_types=event_types
        )

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        return await self.store.stream_version(stream_id)

    async def stream_exists(self, stream_id: str) -> bool:
        """See EventStore.stream_exists."""
        return await self.store.stream_exists(stream_id)

    async def last_position(self) -> int:
        """See EventStore.last_position."""
        return await self.store.last_position()

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams."""
        return await self.store.list_streams(limit=limit, after=after, stream_type=stream_type)

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        return await self.store.find_events(event_ids)

    async def read_horizon(self) -> ReadHorizon:
        """See EventStore.read_horizon."""
        return await self.store.read_horizon()

    async def migrate(self) -> list[str]:
        """See EventStore.migrate."""
        return await self.store.migrate()

    async def close(self) -> None:
        """Close the wrapped store."""
        await self.store.close()

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        await self.store.save_snapshot(snapshot)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """See SnapshotStore.load_snapshot."""
        return await self.store.load_snapshot(stream_id)

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """See EventStoreBackend.read_since_snapshot."""
        return await self.store.read_since_snapshot(stream_id, schema_version=schema_version)

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome."""
        return await self.store.record_outcome(outcome)

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        return await self.store.find_outcome(command_id)


def _for(projection: Projection, records: list[StoredEvent]) -> list[StoredEvent]:
    types = set(projection.event_types)
    streams = projection.stream_types
    return [
        r
        for r in records
        if r.event_type in types and (streams is None or r.stream_type in streams)
    ]


async def _written(session: Session, stream_id: str, after: int, last: int) -> list[StoredEvent]:
    """The events just appended, as stored (positions, times), read inside the transaction."""
    rows = await session.fetch(
        sql_for(
            session.dialect,
            f"SELECT {COLUMNS} FROM eskit_events WHERE stream_id = ? AND version > ? "
            "AND version <= ? ORDER BY version",
        ),
        (stream_id, after, last),
    )
    return records(session, rows)
