"""Restoring a Kafka repository: its snapshots, then the events after them, folded in memory."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NoReturn, TypeVar

from aiokafka import AIOKafkaConsumer

from eskit.domain.aggregate import Aggregate
from eskit.domain.registry import Decoder, EventRegistry
from eskit.errors import EventDecodingError
from eskit.messaging.envelope import HEADERS
from eskit.messaging.kafka_repository.codec import FINGERPRINT_HEADER, read_headers
from eskit.messaging.kafka_repository.errors import KafkaRecordError
from eskit.messaging.kafka_repository.snapshots import SnapshotSet
from eskit.messaging.kafka_repository.topics import Batch, read_to_end

__all__ = ["RepositoryState", "RestoreProgress", "RestoreReport", "Seen", "restore_state"]

A = TypeVar("A", bound=Aggregate)

_REQUIRED = frozenset(HEADERS)
EVENT_ID, EVENT_TYPE, SCHEMA_VERSION, STREAM_ID, STREAM_TYPE, VERSION, POSITION, _ = HEADERS


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


Seen = tuple[str, int, int, str]
"""Where an event id was written, for recognising a retried command: stream id, version,
position, request fingerprint (a plain tuple: a restore makes one per event)."""


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
        self.trim()

    def trim(self) -> None:
        """Drop the oldest event ids past the window."""
        if len(self.seen) > self.window + (self.window >> 2):
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
            state.remember(event_id, (stream_id, version, position, fingerprint))
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
        self.stream_type_bytes = self.stream_type.encode()
        self._decoders: dict[tuple[bytes, bytes], Decoder] = {}
        self.read = 0
        self.applied = 0

    def fold(self, partition: int, records: Batch) -> None:
        """Fold ``records`` of ``partition``; KafkaRecordError for one it cannot place.

        The hot loop of a restore: the headers are read straight from the record (the
        careful, slower reading in ``codec.read_headers`` only runs to name what is wrong
        with a record), and each event type's decoder is looked up once.
        """
        state = self.state
        aggregates = state.aggregates
        last_positions = state.last_positions
        stream_type = self.stream_type_bytes
        decoders = self._decoders
        seen = state.seen
        read = applied = 0
        for record in records:
            headers = dict(record.headers)
            if not headers.keys() >= _REQUIRED or headers[STREAM_TYPE] != stream_type:
                self._refuse(partition, record)
            try:
                stream_id = headers[STREAM_ID].decode()
                version = int(headers[VERSION])
                position = int(headers[POSITION])
                event_id = headers[EVENT_ID].decode()
            except (ValueError, UnicodeDecodeError):
                self._refuse(partition, record)
                raise  # _refuse raised already
            aggregate = aggregates.get(stream_id)
            current = 0 if aggregate is None else aggregate.version
            if version == current + 1:
                kind = (headers[EVENT_TYPE], headers[SCHEMA_VERSION])
                decode = decoders.get(kind) or self._decoder(kind, partition, record)
                try:
                    event = decode(record.value or b"", position)
                except EventDecodingError as exc:
                    raise KafkaRecordError(
                        self.topic, partition, record.offset, "undecodable", exc.message
                    ) from exc
                if aggregate is None:
                    aggregate = aggregates[stream_id] = self.aggregate_type(id=stream_id)
                aggregate.apply(event)
                last_positions[stream_id] = position
                applied += 1
            elif version > current:
                raise KafkaRecordError(
                    self.topic,
                    partition,
                    record.offset,
                    "version_gap",
                    f"stream {stream_id!r} is at version {current}; the record has {version}",
                )
            elif not self._known(event_id, stream_id, version):
                raise KafkaRecordError(
                    self.topic,
                    partition,
                    record.offset,
                    "version_conflict",
                    f"stream {stream_id!r} already has a version {version} "
                    f"(event {event_id} is another event)",
                )
            if position > state.position:
                state.position = position
            fingerprint = headers.get(FINGERPRINT_HEADER)
            seen[event_id] = (
                stream_id,
                version,
                position,
                fingerprint.decode() if fingerprint else "",
            )
            read += 1
        self.read += read
        self.applied += applied
        state.trim()

    def _decoder(self, kind: tuple[bytes, bytes], partition: int, record: Any) -> Decoder:
        """The decoder of an event type and schema version, checked against the aggregate:
        a type it has no handler for is as foreign as an unknown one."""
        where = (self.topic, partition, record.offset)
        try:
            event_type, schema_version = kind[0].decode(), int(kind[1])
        except (ValueError, UnicodeDecodeError) as exc:
            raise KafkaRecordError(*where, "bad_header", str(exc)) from exc
        if event_type not in self.registry:
            raise KafkaRecordError(*where, "undecodable", f"unknown event type {event_type!r}")
        handled = self.aggregate_type.handled_events()
        if self.registry.class_for(event_type) not in handled:
            raise KafkaRecordError(
                *where,
                "undecodable",
                f"{self.aggregate_type.__name__} has no handler for {event_type!r}",
            )
        decode = self._decoders[kind] = self.registry.decoder(event_type, schema_version)
        return decode

    def _refuse(self, partition: int, record: Any) -> NoReturn:
        """Raise the KafkaRecordError saying what is wrong with ``record``'s headers."""
        headers = read_headers(self.topic, partition, record.offset, record.headers)
        raise KafkaRecordError(
            self.topic,
            partition,
            record.offset,
            "foreign_stream_type",
            f"stream type {headers.stream_type!r}, expected {self.stream_type!r}",
        )

    def _known(self, event_id: str, stream_id: str, version: int) -> bool:
        """Whether an event at or below the stream's version is one already folded: covered
        by the stream's snapshot, or a repeat of a record read before (a retried send)."""
        if self.covered.get(stream_id, 0) >= version:
            return True
        seen = self.state.seen.get(event_id)
        return seen is not None and seen[:2] == (stream_id, version)
