"""A store that passes every call to another: the base of wrappers (inline projections, …).

A wrapper subclasses :class:`ForwardingStore` and overrides only what it changes; the rest
of the port reaches the wrapped store unchanged, written once here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from eskit.domain.events import Event
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.port import EventStoreBackend, StoreCapabilities
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
from eskit.store.unit_of_work import (
    CommittedRows,
    UnitOfWork,
    require_transactions,
)

__all__ = ["ForwardingStore"]


class ForwardingStore:
    """Every method of the store port, answered by ``inner``."""

    def __init__(self, inner: EventStoreBackend) -> None:
        self.inner = inner
        self.appended: AppendSignal = inner.appended
        self.capabilities: StoreCapabilities = inner.capabilities

    def commit_listener(self) -> CommitListener | None:
        """See EventStoreBackend.commit_listener."""
        return self.inner.commit_listener()

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """See TransactionalStore.transaction (ConfigurationError if ``inner`` has none)."""
        return require_transactions(self.inner, "transactions").transaction()

    @property
    def committed(self) -> CommittedRows:
        """See TransactionalStore.committed (ConfigurationError if ``inner`` has none)."""
        return require_transactions(self.inner, "read models").committed

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
        return await self.inner.append(
            stream_id,
            events,
            expected_version=expected_version,
            stream_type=stream_type,
            metadata=metadata,
        )

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_stream."""
        return await self.inner.read_stream(
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
        return await self.inner.read_payloads(
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
        return await self.inner.read_batch(
            after=after, limit=limit, stream_types=stream_types, event_types=event_types
        )

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogPage:
        """See EventStore.read_page."""
        return await self.inner.read_page(
            after=after, limit=limit, stream_types=stream_types, event_types=event_types
        )

    async def count_events(
        self,
        *,
        after: int,
        up_to: int,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogSpan:
        """See EventStore.count_events."""
        return await self.inner.count_events(
            after=after, up_to=up_to, stream_types=stream_types, event_types=event_types
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
        return self.inner.read_all(
            after=after, batch_size=batch_size, stream_types=stream_types, event_types=event_types
        )

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        return await self.inner.stream_version(stream_id)

    async def stream_exists(self, stream_id: str) -> bool:
        """See EventStore.stream_exists."""
        return await self.inner.stream_exists(stream_id)

    async def last_position(self) -> int:
        """See EventStore.last_position."""
        return await self.inner.last_position()

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams."""
        return await self.inner.list_streams(limit=limit, after=after, stream_type=stream_type)

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        return await self.inner.find_events(event_ids)

    async def read_horizon(self) -> ReadHorizon:
        """See EventStore.read_horizon."""
        return await self.inner.read_horizon()

    def saturation(self) -> StoreSaturation:
        """See EventStoreBackend.saturation."""
        return self.inner.saturation()

    async def migrate(self) -> list[str]:
        """See EventStore.migrate."""
        return await self.inner.migrate()

    async def close(self) -> None:
        """Close the wrapped store."""
        await self.inner.close()

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        await self.inner.save_snapshot(snapshot)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """See SnapshotStore.load_snapshot."""
        return await self.inner.load_snapshot(stream_id)

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """See EventStoreBackend.read_since_snapshot."""
        return await self.inner.read_since_snapshot(stream_id, schema_version=schema_version)

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome."""
        return await self.inner.record_outcome(outcome)

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        return await self.inner.find_outcome(command_id)
