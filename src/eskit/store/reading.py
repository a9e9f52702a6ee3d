"""What every adapter derives the same way from its own reads: written once, here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Collection
from typing import Protocol

from eskit.store.records import StoredEvent

__all__ = ["BatchReader", "DerivedReads", "read_in_batches"]


class BatchReader(Protocol):
    """``EventStore.read_batch``, as the adapters implement it."""

    def __call__(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> Awaitable[list[StoredEvent]]: ...


async def read_in_batches(
    read_batch: BatchReader,
    *,
    after: int,
    batch_size: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> AsyncIterator[StoredEvent]:
    """Every event after ``after``, one ``read_batch`` call per ``batch_size`` events."""
    while True:
        batch = await read_batch(
            after=after, limit=batch_size, stream_types=stream_types, event_types=event_types
        )
        for event in batch:
            yield event
        if len(batch) < batch_size:
            return
        after = batch[-1].position


class DerivedReads:
    """``read_all`` and ``stream_exists`` in terms of ``read_batch`` and ``stream_version``."""

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        raise NotImplementedError  # pragma: no cover - every adapter reads its own log

    async def stream_version(self, stream_id: str) -> int:
        raise NotImplementedError  # pragma: no cover - every adapter reads its own streams

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

    async def stream_exists(self, stream_id: str) -> bool:
        """See EventStore.stream_exists."""
        return await self.stream_version(stream_id) > 0
