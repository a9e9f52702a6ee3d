"""Restoring a Kafka repository: its snapshots, then the events after them, folded in memory."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from aiokafka import AIOKafkaConsumer

from eskit.domain.aggregate import Aggregate
from eskit.domain.registry import EventRegistry
from eskit.messaging.kafka_repository.codec import decode_event, read_headers
from eskit.messaging.kafka_repository.errors import KafkaRecordError
from eskit.messaging.kafka_repository.snapshots import SnapshotSet
from eskit.messaging.kafka_repository.topics import Batch, read_to_end

__all__ = ["RepositoryState", "RestoreProgress", "RestoreReport", "Seen", "restore_state"]

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True, slots=True)
class RestoreProgress:
    """How far a restore is: ``phase`` ``snapshots`` or ``events``, records read of total."""

    phase: str
    read: int
    total: int


ProgressCallback = Callable[[RestoreProgress], None]


@dataclass(frozen=True, slots=True)
class RestoreReport:
    """What a restore read and how long it took.

    ``events_read`` counts the event records read (``events_applied`` of them folded, the
    rest covered by a snapshot or repeats of a record already read); ``snapshots_read`` the
    snapshot records. ``snapshot_unused`` says why the snapshots could not be used, if so.
    """

    events_read: int
    events_applied: int
    snapshots_read: int
    aggregates: int
    seconds: float
    from_snapshot: bool
    snapshot_unused: str = ""
    snapshot_run: int = 0
    """The number of the snapshot run restored from (0: none)."""


class Seen(NamedTuple):
    """Where an event id was written: for recognising a retried command."""

    stream_id: str
    version: int
    position: int
    fingerprint: str


@dataclass(slots=True)
class RepositoryState(Generic[A]):
    """Everything a Kafka repository holds in memory."""

    aggregates: dict[str, A] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    """Per partition: the offset after the last record read or written."""
    position: int = 0
    """The highest position read or written; the next event gets the one after."""
    last_positions: dict[str, int] = field(default_factory=dict)
    seen: dict[str, Seen] = field(default_factory=dict)
    """Event id -> where it was written, the newest ``window`` of them."""
    snapshotted: dict[str, int] = field(default_factory=dict)
    """Stream id -> the version of its newest snapshot record."""
    window: int = 100_000

    def remember(self, event_id: str, seen: Seen) -> None:
        """Keep ``event_id`` among the recent ones, dropping the oldest past the window."""
        self.seen[event_id] = seen
        if len(self.seen) > self.window + self.window // 4:
            # dropped in bulk: deleting one key at a time from a dict's front is quadratic
            drop = len(self.seen) - self.window
            self.seen = dict(itertools.islice(self.seen.items(), drop, None))


async def restore_state(
    consumer: AIOKafkaConsumer,
    *,
    topic: str,
    snapshot_topic: str | None,
    partitions: int,
    aggregate_type: type[A],
    registry: EventRegistry,
    window: int,
    idle_timeout_s: float,
    on_progress: ProgressCallback | None,
) -> tuple[RepositoryState[A], RestoreReport]:
    """Read the snapshots (if ``snapshot_topic``) and then the events after them."""
    started = time.perf_counter()
    state: RepositoryState[A] = RepositoryState(window=window)
    snapshots = SnapshotSet()
    if snapshot_topic is not None:
        await read_to_end(
            consumer,
            snapshot_topic,
            dict.fromkeys(range(partitions), 0),
            lambda partition, records: snapshots.fold(snapshot_topic, partition, records),
            idle_timeout_s=idle_timeout_s,
            on_read=_reporter(on_progress, "snapshots"),
        )
    unused = _unusable(snapshots, aggregate_type, partitions)
    starts = dict.fromkeys(range(partitions), 0)
    covered: dict[str, int] = {}
    if not unused:
        _load_snapshots(state, snapshots, aggregate_type)
        covered = dict(state.snapshotted)
        if snapshots.manifest is not None:
            starts = {p: snapshots.manifest.offsets.get(p, 0) for p in range(partitions)}
    folder = _Folder(state, topic, aggregate_type, registry, covered)
    state.ends = await read_to_end(
        consumer,
        topic,
        starts,
        folder.fold,
        idle_timeout_s=idle_timeout_s,
        on_read=_reporter(on_progress, "events"),
    )
    report = RestoreReport(
        events_read=folder.read,
        events_applied=folder.applied,
        snapshots_read=snapshots.records,
        aggregates=len(state.aggregates),
        seconds=time.perf_counter() - started,
        from_snapshot=not unused and snapshots.manifest is not None,
        snapshot_unused="" if snapshot_topic is None else unused,
        snapshot_run=snapshots.manifest.run if snapshots.manifest is not None else 0,
    )
    return state, report


def _reporter(
    on_progress: ProgressCallback | None, phase: str
) -> Callable[[int, int], None] | None:
    if on_progress is None:
        return None
    return lambda read, total: on_progress(RestoreProgress(phase, read, total))


def _unusable(snapshots: SnapshotSet, aggregate_type: type[Aggregate], partitions: int) -> str:
    """Why the snapshots cannot be used ("" if they can): the events are then read whole."""
    manifest = snapshots.manifest
    if manifest is not None and set(manifest.offsets) != set(range(partitions)):
        return (
            f"the manifest names partitions {sorted(manifest.offsets)}, the topic has {partitions}"
        )
    schema = aggregate_type.snapshot_schema_version
    outdated = next((s for s in snapshots.aggregates.values() if s.schema_version != schema), None)
    if outdated is not None:
        return (
            f"snapshot of {outdated.stream_id!r} has schema version {outdated.schema_version}, "
            f"{aggregate_type.__name__} has {schema}"
        )
    return ""


def _load_snapshots(
    state: RepositoryState[A], snapshots: SnapshotSet, aggregate_type: type[A]
) -> None:
    for stream_id, snapshot in snapshots.aggregates.items():
        state.aggregates[stream_id] = aggregate_type.from_snapshot(
            stream_id, snapshot.version, snapshot.state
        )
        state.snapshotted[stream_id] = snapshot.version
        for event_id, version, position, fingerprint in snapshot.recent:
            state.remember(event_id, Seen(stream_id, version, position, fingerprint))
        if snapshot.recent:
            state.last_positions[stream_id] = snapshot.recent[-1][2]
    if snapshots.manifest is not None:
        state.position = snapshots.manifest.position


class _Folder(Generic[A]):
    """Folds event records into the state, refusing any record it cannot place."""

    def __init__(
        self,
        state: RepositoryState[A],
        topic: str,
        aggregate_type: type[A],
        registry: EventRegistry,
        covered: dict[str, int],
    ) -> None:
        self.state = state
        self.topic = topic
        self.aggregate_type = aggregate_type
        self.stream_type = aggregate_type.stream_type
        self.registry = registry
        self.covered = covered
        self.read = 0
        self.applied = 0

    def fold(self, partition: int, records: Batch) -> None:
        state = self.state
        aggregates = state.aggregates
        for record in records:
            where = (self.topic, partition, record.offset)
            headers = read_headers(*where, record.headers)
            if headers.stream_type != self.stream_type:
                raise KafkaRecordError(
                    *where,
                    "foreign_stream_type",
                    f"stream type {headers.stream_type!r}, expected {self.stream_type!r}",
                )
            stream_id = headers.stream_id
            aggregate = aggregates.get(stream_id)
            current = 0 if aggregate is None else aggregate.version
            version = headers.version
            if version == current + 1:
                event = decode_event(self.registry, headers, record.value, where)
                if aggregate is None:
                    aggregate = aggregates[stream_id] = self.aggregate_type(id=stream_id)
                try:
                    aggregate.apply(event)
                except TypeError as exc:  # no handler for this event type
                    raise KafkaRecordError(*where, "undecodable", str(exc)) from exc
                state.last_positions[stream_id] = headers.position
                self.applied += 1
            elif version > current:
                raise KafkaRecordError(
                    *where,
                    "version_gap",
                    f"stream {stream_id!r} is at version {current}; the record has {version}",
                )
            elif not self._known(headers.event_id, stream_id, version):
                raise KafkaRecordError(
                    *where,
                    "version_conflict",
                    f"stream {stream_id!r} already has a version {version} "
                    f"(event {headers.event_id} is another event)",
                )
            if headers.position > state.position:
                state.position = headers.position
            state.remember(
                headers.event_id,
                Seen(stream_id, version, headers.position, headers.fingerprint),
            )
            self.read += 1

    def _known(self, event_id: str, stream_id: str, version: int) -> bool:
        """Whether an event at or below the stream's version is one already folded: covered
        by the stream's snapshot, or a repeat of a record read before (a retried send)."""
        if self.covered.get(stream_id, 0) >= version:
            return True
        seen = self.state.seen.get(event_id)
        return seen is not None and seen.stream_id == stream_id and seen.version == version
