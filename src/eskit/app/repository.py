"""The repository: loads aggregates from snapshot plus later events, and stores new events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from eskit.app.metadata import FINGERPRINT_KEY
from eskit.domain.aggregate import Aggregate
from eskit.domain.events import Event
from eskit.domain.ids import derive_uuid7, uuid7
from eskit.domain.registry import Decoder, EventRegistry
from eskit.errors import NotFoundError
from eskit.observability.metrics import record_append
from eskit.store.port import EventStoreBackend
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedVersion,
    NewEvent,
    Snapshot,
    StoredEvent,
)

__all__ = ["HistoryEntry", "Repository"]

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of a stream's history: the record as stored and the decoded domain event."""

    record: StoredEvent
    event: Event


class Repository(Generic[A]):
    """Loads and saves aggregates of one type.

    Loading starts from the latest snapshot when its schema version matches the aggregate's
    ``snapshot_schema_version`` (an outdated one is ignored) and applies the later events.
    Saving appends the pending events with the version the aggregate was loaded at as the
    expected version, and stores a snapshot each time the stream crosses a multiple of
    ``snapshot_every`` (the aggregate's own setting unless given; ``snapshots=False`` turns
    snapshots off, for writing and for loading).
    """

    def __init__(
        self,
        store: EventStoreBackend,
        aggregate_type: type[A],
        registry: EventRegistry | None = None,
        *,
        snapshot_every: int | None = None,
        snapshots: bool = True,
    ) -> None:
        self.store = store
        self.aggregate_type = aggregate_type
        self.registry = registry or EventRegistry(aggregate_type.handled_events())
        every = snapshot_every if snapshot_every is not None else aggregate_type.snapshot_every
        self.snapshot_every = every if snapshots else None
        if self.snapshot_every is not None and self.snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")

    async def load(
        self,
        aggregate_id: str,
        *,
        at_version: int | None = None,
        as_of: datetime | None = None,
    ) -> A:
        """The aggregate now, or as it was at ``at_version`` or at the time ``as_of``.

        Raises NotFoundError if the stream does not exist, had not reached ``at_version``,
        or did not exist yet at ``as_of``.
        """
        if at_version is not None and at_version < 1:
            raise NotFoundError(
                self.aggregate_type.stream_type, aggregate_id, f"no version {at_version}"
            )
        if at_version is None and as_of is None and self.snapshot_every is not None:
            # the common case, a command's load: snapshot and later events in one read
            snapshot, records = await self.store.read_since_snapshot(
                aggregate_id, schema_version=self.aggregate_type.snapshot_schema_version
            )
        else:
            snapshot = None if as_of is not None else await self._usable_snapshot(aggregate_id)
            if snapshot is not None and at_version is not None and snapshot.version > at_version:
                snapshot = None
            records = await self.store.read_payloads(
                aggregate_id,
                from_version=snapshot.version + 1 if snapshot else 1,
                to_version=at_version,
                until=as_of,
            )
        if snapshot is None:
            aggregate = self.aggregate_type(id=aggregate_id)
        else:
            aggregate = self.aggregate_type.from_snapshot(
                aggregate_id, snapshot.version, snapshot.state
            )
        self._fold(aggregate, records)
        if aggregate.version == 0:
            detail = f"nothing recorded by {as_of.isoformat()}" if as_of else ""
            raise NotFoundError(self.aggregate_type.stream_type, aggregate_id, detail)
        if at_version is not None and aggregate.version < at_version:
            raise NotFoundError(
                self.aggregate_type.stream_type,
                aggregate_id,
                f"version {at_version} does not exist; the latest is {aggregate.version}",
            )
        return aggregate

    async def catch_up(self, aggregate: A) -> A:
        """Fold into ``aggregate`` the events stored after its version; it must have none pending.

        Brings a copy kept in memory up to date with one read of only what it missed.
        """
        if aggregate.pending_events:
            raise ValueError("cannot catch up an aggregate with pending events")
        records = await self.store.read_payloads(aggregate.id, from_version=aggregate.version + 1)
        self._fold(aggregate, records)
        return aggregate

    async def exists(self, aggregate_id: str) -> bool:
        """Whether the aggregate's stream has any event."""
        return await self.store.stream_exists(aggregate_id)

    def _fold(self, aggregate: A, records: Sequence[EventPayload]) -> None:
        aggregate.apply_all(self._decoded(records))

    def _decoded(self, records: Sequence[EventPayload]) -> Iterator[Event]:
        # a stream holds few types: look each decoder up once, not once per event
        decoders: dict[tuple[str, int], Decoder] = {}
        decoder = self.registry.decoder
        for position, _, event_type, schema_version, data in records:
            decode = decoders.get((event_type, schema_version))
            if decode is None:
                decode = decoders[event_type, schema_version] = decoder(event_type, schema_version)
            yield decode(data, position)

    async def _usable_snapshot(self, aggregate_id: str) -> Snapshot | None:
        if self.snapshot_every is None:
            return None
        snapshot = await self.store.load_snapshot(aggregate_id)
        if snapshot is None:
            return None
        if snapshot.schema_version != self.aggregate_type.snapshot_schema_version:
            return None  # written for an older shape of the state: replay the events instead
        return snapshot

    async def save(
        self,
        aggregate: A,
        *,
        metadata: Mapping[str, Any] | None = None,
        event_ids: Sequence[uuid.UUID] | None = None,
        expected_version: ExpectedVersion | None = None,
    ) -> AppendResult:
        """Append the aggregate's pending events; raises ConcurrencyError on a conflict.

        ``event_ids`` gives the new events stable ids (command handling derives them from
        the command id so a retried command is recognised). ``expected_version`` defaults
        to the version the aggregate had when loaded.
        """
        pending = aggregate.pending_events
        ids = list(event_ids) if event_ids is not None else [uuid7() for _ in pending]
        if len(ids) < len(pending):
            raise ValueError(f"{len(pending)} pending events but {len(ids)} event ids")
        result = await self.store.append(
            aggregate.id,
            [NewEvent(event, event_id) for event, event_id in zip(pending, ids, strict=False)],
            expected_version=aggregate.stored_version
            if expected_version is None
            else expected_version,
            stream_type=self.aggregate_type.stream_type,
            metadata=metadata,
        )
        record_append(
            self.aggregate_type.stream_type, len(pending), deduplicated=result.deduplicated
        )
        before = aggregate.stored_version
        aggregate.mark_saved()
        if not result.deduplicated and self._snapshot_due(before, result.version):
            await self._save_snapshot(aggregate)
        return result

    def _snapshot_due(self, before: int, after: int) -> bool:
        every = self.snapshot_every
        return every is not None and after // every > before // every

    async def _save_snapshot(self, aggregate: A) -> None:
        snapshot = Snapshot(
            stream_id=aggregate.id,
            stream_type=self.aggregate_type.stream_type,
            version=aggregate.version,
            schema_version=self.aggregate_type.snapshot_schema_version,
            state=aggregate.snapshot_state(),
        )
        try:
            await self.store.save_snapshot(snapshot)
        except Exception:
            # the events are committed; a missing snapshot only costs a longer replay
            log.warning("could not save snapshot of %s", aggregate.id, exc_info=True)

    async def earlier_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """What an earlier handling of ``command_id`` did: found by the id its first event
        was given (``derive_uuid7(command_id, 0)``), else by an outcome kept for it."""
        found = await self.store.find_events([derive_uuid7(command_id, 0)])
        if not found:
            return await self.store.find_outcome(command_id)
        first = found[0]
        causation = str(command_id)
        last = first
        for record in await self.store.read_stream(first.stream_id, from_version=first.version + 1):
            if record.metadata.get("causation_id") != causation:
                break
            last = record
        fingerprint = first.metadata.get(FINGERPRINT_KEY)
        return CommandOutcome(
            command_id,
            first.stream_id,
            last.version,
            last.position,
            fingerprint if isinstance(fingerprint, str) else "",
        )

    async def keep_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """Keep the outcome of a command that recorded no event (see ``CommandOutcomeStore``)."""
        return await self.store.record_outcome(outcome)

    async def history(self, aggregate_id: str) -> list[HistoryEntry]:
        """Every event of the stream, as stored and decoded; raises NotFoundError if none."""
        records = await self.store.read_stream(aggregate_id)
        if not records:
            raise NotFoundError(self.aggregate_type.stream_type, aggregate_id)
        decode = self.registry.decode
        return [
            HistoryEntry(r, decode(r.event_type, r.schema_version, r.data, position=r.position))
            for r in records
        ]
