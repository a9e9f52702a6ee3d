"""An in-memory event store for fast unit tests; it passes the same contract suite."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import orjson

from eskit.domain.events import Event
from eskit.store.browsing import StreamTypeCount
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.encoding import encode_events
from eskit.store.expected import check_expected_version, validate_expected_version
from eskit.store.idempotency import original_outcome
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

__all__ = ["InMemoryEventStore"]


class InMemoryEventStore(DerivedReads):
    """Keeps everything in process memory. Data is lost when the object goes away.

    It has no transactions (``capabilities.transactions`` is false): read models,
    checkpoints and processed ids need a SQL store.
    """

    capabilities = StoreCapabilities()

    def __init__(self) -> None:
        self._log: list[StoredEvent] = []
        self._streams: dict[str, list[StoredEvent]] = {}
        self._by_id: dict[uuid.UUID, StoredEvent] = {}
        self._outcomes: dict[uuid.UUID, CommandOutcome] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._lock = asyncio.Lock()
        self.appended = AppendSignal()
        """Fired after every append that commits."""

    def commit_listener(self) -> CommitListener | None:
        """None: no other process can write to this store."""
        return None

    async def __aenter__(self) -> InMemoryEventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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
        async with self._lock:
            found = [self._by_id[e.event_id] for e in batch if e.event_id in self._by_id]
            outcome = original_outcome(stream_id, batch, found)
            if outcome is not None:
                return outcome
            stream = self._streams.get(stream_id, [])
            check_expected_version(stream_id, expected_version, len(stream))
            if not batch:
                return AppendResult(stream_id, len(stream), self._last_in(stream))
            now = datetime.now(UTC)
            kind = stream[0].stream_type if stream else stream_type
            stored = [
                StoredEvent(
                    position=len(self._log) + i + 1,
                    stream_id=stream_id,
                    stream_type=kind,
                    version=len(stream) + i + 1,
                    event_id=e.event_id,
                    event_type=e.event_type,
                    schema_version=e.schema_version,
                    data=orjson.loads(e.data),
                    metadata=orjson.loads(e.metadata),
                    recorded_at=now,
                )
                for i, e in enumerate(batch)
            ]
            self._log.extend(stored)
            self._streams[stream_id] = stream + stored
            self._by_id.update((e.event_id, e) for e in stored)
            self.appended.fire(stored[-1].position)
            return AppendResult(stream_id, stored[-1].version, stored[-1].position)

    @staticmethod
    def _last_in(stream: list[StoredEvent]) -> int:
        return stream[-1].position if stream else 0

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_stream."""
        return [
            e
            for e in self._streams.get(stream_id, [])
            if e.version >= from_version
            and (to_version is None or e.version <= to_version)
            and (until is None or e.recorded_at <= until)
        ]

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """See EventStore.read_payloads."""
        events = await self.read_stream(
            stream_id, from_version=from_version, to_version=to_version, until=until
        )
        return [
            EventPayload(e.position, e.version, e.event_type, e.schema_version, e.data)
            for e in events
        ]

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_batch."""
        out: list[StoredEvent] = []
        for event in self._log[max(after, 0) :]:
            if stream_types is not None and event.stream_type not in stream_types:
                continue
            if event_types is not None and event.event_type not in event_types:
                continue
            out.append(event)
            if len(out) >= limit:
                break
        return out

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogPage:
        """See EventStore.read_page."""
        head = len(self._log)
        events = await self.read_batch(
            after=after, limit=limit, stream_types=stream_types, event_types=event_types
        )
        return LogPage(events, head)

    async def count_events(
        self,
        *,
        after: int,
        up_to: int,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogSpan:
        """See EventStore.count_events."""
        found = [
            e
            for e in self._log[max(after, 0) : max(up_to, 0)]
            if (stream_types is None or e.stream_type in stream_types)
            and (event_types is None or e.event_type in event_types)
        ]
        return LogSpan(len(found), found[0].recorded_at if found else None)

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        return len(self._streams.get(stream_id, ()))

    async def last_position(self) -> int:
        """See EventStore.last_position."""
        return len(self._log)

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams; ``after`` is the position of a stream's first event."""
        firsts = sorted((s[0] for s in self._streams.values()), key=lambda e: e.position)
        out = []
        for first in firsts:
            if first.position <= after or (stream_type and first.stream_type != stream_type):
                continue
            out.append(self._stream_info(first))
            if len(out) >= limit:
                break
        return out

    def _stream_info(self, first: StoredEvent) -> StreamInfo:
        stream = self._streams[first.stream_id]
        return StreamInfo(
            first.stream_id,
            first.stream_type,
            len(stream),
            first.recorded_at,
            stream[-1].recorded_at,
            first.position,
        )

    # -- browsing (eskit.store.browsing.LogBrowser) -------------------------------------

    async def stream_types(self) -> list[StreamTypeCount]:
        """See LogBrowser.stream_types."""
        counts = Counter(s[0].stream_type for s in self._streams.values())
        return [StreamTypeCount(t, n) for t, n in sorted(counts.items())]

    async def latest_streams(
        self, *, stream_type: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[StreamInfo]:
        """See LogBrowser.latest_streams."""
        firsts = sorted(
            (s[0] for s in self._streams.values()), key=lambda e: e.position, reverse=True
        )
        out = []
        for first in firsts:
            if before is not None and first.position >= before:
                continue
            if stream_type is not None and first.stream_type != stream_type:
                continue
            out.append(self._stream_info(first))
            if len(out) >= limit:
                break
        return out

    async def latest_events(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """See LogBrowser.latest_events."""
        end = len(self._log) if before is None else max(0, min(before - 1, len(self._log)))
        return self._log[max(0, end - limit) : end][::-1]

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        found = []
        for given in event_ids:
            try:
                event_id = given if isinstance(given, uuid.UUID) else uuid.UUID(str(given))
            except ValueError:
                continue
            if event_id in self._by_id:
                found.append(self._by_id[event_id])
        return found

    async def read_horizon(self) -> ReadHorizon:
        """Nothing ever holds readers back in memory."""
        return ReadHorizon(position=len(self._log))

    def saturation(self) -> StoreSaturation:
        """No pool, no writer: nothing ever waits."""
        return StoreSaturation()

    async def migrate(self) -> list[str]:
        """Nothing to migrate."""
        return []

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        current = self._snapshots.get(snapshot.stream_id)
        if snapshot.recorded_at is None:
            snapshot = dataclasses.replace(snapshot, recorded_at=datetime.now(UTC))
        if current is None or current.version <= snapshot.version:
            self._snapshots[snapshot.stream_id] = snapshot

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """See EventStoreBackend.read_since_snapshot."""
        snapshot = self._snapshots.get(stream_id)
        if snapshot is not None and snapshot.schema_version != schema_version:
            snapshot = None
        after = snapshot.version if snapshot else 0
        return snapshot, await self.read_payloads(stream_id, from_version=after + 1)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """See SnapshotStore.load_snapshot."""
        return self._snapshots.get(stream_id)

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome."""
        if outcome.recorded_at is None:
            outcome = dataclasses.replace(outcome, recorded_at=datetime.now(UTC))
        return self._outcomes.setdefault(outcome.command_id, outcome)

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        return self._outcomes.get(command_id)

    async def close(self) -> None:
        """Nothing to release."""
