"""A repository whose aggregates live in memory and whose events live on a Kafka topic.

Why a repository and not an event-store adapter: Kafka keeps no index by stream, so
loading one aggregate from the topic means reading it all. The repository instead reads the
topic once at start-up, folds every aggregate, and answers ``load`` from memory; ``save``
writes the new events to the topic and applies them in memory only once the broker has
acknowledged them. A store adapter would have to keep every event (for ``read_stream``,
``read_all``, positions) to answer the store port, which is exactly what snapshots let a
restart skip; the repository only needs the folded state.

Guarantees and limits:

* **One writer per topic**, enforced by a lease (``eskit.messaging.kafka_repository.lease``):
  a second writer refuses to start while the first holds it.
* **Version checks** against the state in memory: a save whose expected version is not the
  aggregate's raises ConcurrencyError, as on the event store. A save touches one aggregate
  (its events go out in one record batch, which the broker appends whole); there are no
  transactions across aggregates.
* **No silent divergence.** A save whose outcome is unknown (no acknowledgement in time, a
  broken connection) makes the repository stale: it refuses every command with
  StaleRepositoryError until :meth:`KafkaRepository.restore` has read the topic again. So
  does a lapsed writer lease.
* **Every record accounted for.** A record that is not an event of this aggregate type, is
  not JSON, lacks the envelope's headers or leaves a gap in its stream's versions stops the
  restore with KafkaRecordError naming its partition and offset.
* **Memory holds every aggregate**, and the ids of the newest ``dedupe_window`` events (so a
  retried command is answered, not applied twice; after a restart from snapshots, the
  newest 16 events of each aggregate are known as well).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from eskit.domain.aggregate import Aggregate
from eskit.domain.ids import derive_uuid7, uuid7
from eskit.domain.registry import EventRegistry
from eskit.errors import ConcurrencyError, NotFoundError, StoreUnavailableError
from eskit.messaging.kafka_repository.codec import encode_event
from eskit.messaging.kafka_repository.errors import StaleRepositoryError
from eskit.messaging.kafka_repository.lease import WriterLease
from eskit.messaging.kafka_repository.restore import (
    ProgressCallback,
    RepositoryState,
    RestoreReport,
    restore_state,
)
from eskit.messaging.kafka_repository.snapshots import AggregateSnapshot, Manifest, write_run
from eskit.messaging.kafka_repository.topics import create_topics, with_timeout
from eskit.messaging.topology import Topology
from eskit.store.records import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    CommandOutcome,
    ExpectedVersion,
)

__all__ = ["KafkaRepository"]

A = TypeVar("A", bound=Aggregate)
log = logging.getLogger(__name__)

_RECENT_PER_SNAPSHOT = 16


class KafkaRepository(Generic[A]):
    """Aggregates of one type, restored from their Kafka topic and kept in memory.

    The topic is ``topology.topic(aggregate_type.stream_type)``, the one the Kafka bus
    uses for that stream type, so its consumers read the repository's events as they read
    a relay's. Open it with ``async with`` (or :meth:`open`): that takes the writer lease
    and restores; it raises WriterLeaseHeldError if another writer holds the topic,
    KafkaRecordError for a record it cannot place, and StoreUnavailableError if the broker
    does not answer within ``timeout_s``.

    It implements :class:`eskit.app.CommandRepository`, so a CommandHandler can use it.
    ``snapshot_every`` writes a snapshot run (see :meth:`snapshot`) after that many saved
    events; ``snapshots=False`` neither writes nor reads snapshots. ``idempotent`` asks for
    Kafka's idempotent producer (brokers without it, such as Tansu, need ``False``).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        aggregate_type: type[A],
        registry: EventRegistry | None = None,
        *,
        topology: Topology | None = None,
        partitions: int = 8,
        snapshots: bool = True,
        snapshot_every: int | None = None,
        idempotent: bool = True,
        timeout_s: float = 10.0,
        lease_ttl_s: float = 10.0,
        dedupe_window: int = 100_000,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        if snapshot_every is not None and snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.bootstrap_servers = bootstrap_servers
        self.aggregate_type = aggregate_type
        self.registry = registry or EventRegistry(aggregate_type.handled_events())
        self.topic = (topology or Topology()).topic(aggregate_type.stream_type)
        self.snapshot_topic = f"{self.topic}.snapshots" if snapshots else None
        self.lease_topic = f"{self.topic}.writer"
        self.partitions = partitions
        self.snapshot_every = snapshot_every if snapshots else None
        self.idempotent = idempotent
        self.timeout_s = timeout_s
        self.lease_ttl_s = lease_ttl_s
        self.dedupe_window = dedupe_window
        self.on_progress = on_progress
        self.last_restore: RestoreReport | None = None
        """What the latest restore read."""
        self._state: RepositoryState[A] = RepositoryState(window=dedupe_window)
        self._outcomes: dict[uuid.UUID, CommandOutcome] = {}
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._lease: WriterLease | None = None
        self._partition_ids: list[int] = []
        self._partitioner = DefaultPartitioner()
        self._lock = asyncio.Lock()
        self._stale: str | None = "not opened"
        self._since_snapshot = 0
        self._runs = 0
        self._snapshotting: asyncio.Task[None] | None = None

    # -- life cycle ------------------------------------------------------------------------

    async def open(self) -> Self:
        """Create the topics if needed, take the writer lease and restore."""
        try:
            await with_timeout(
                f"Kafka at {self.bootstrap_servers}", self._connect(), self.timeout_s
            )
            await self.restore()
        except BaseException:
            await self.close()
            raise
        return self

    async def _connect(self) -> None:
        topics = {self.topic: (self.partitions, False), self.lease_topic: (1, True)}
        if self.snapshot_topic is not None:
            topics[self.snapshot_topic] = (self.partitions, True)
        try:
            await create_topics(self.bootstrap_servers, topics, timeout_s=self.timeout_s)
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                enable_auto_commit=False,
                request_timeout_ms=int(self.timeout_s * 1000),
                max_partition_fetch_bytes=8 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
                fetch_max_wait_ms=10,
            )
            await self._consumer.start()
            self._producer = await self._new_producer()
            self._partition_ids = sorted(await self._producer.partitions_for(self.topic))
        except (KafkaError, OSError) as exc:
            raise StoreUnavailableError(
                f"Kafka at {self.bootstrap_servers} cannot be reached: {exc!r}"
            ) from exc
        self._lease = WriterLease(
            self.lease_topic,
            self._producer,
            self._consumer,
            ttl_s=self.lease_ttl_s,
            timeout_s=self.timeout_s,
        )

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            enable_idempotence=self.idempotent,
            linger_ms=0,
            request_timeout_ms=int(self.timeout_s * 1000),
            max_batch_size=1024 * 1024,
            max_request_size=1024 * 1024,
        )
        await producer.start()
        return producer

    async def restore(self) -> RestoreReport:
        """Take the writer lease (again) and read the topic into memory afresh.

        The way back from StaleRepositoryError: a save whose outcome was unknown is settled
        first (its producer is flushed and closed), so what is read includes it if it
        landed. Raises what :meth:`open` raises.
        """
        async with self._lock:
            if self._producer is None or self._consumer is None or self._lease is None:
                raise RuntimeError("open the repository before restoring it")
            if self._stale is not None and self._stale != "not opened":
                await self._settle_producer()
            await with_timeout("the writer lease", self._lease.acquire(), 2 * self.timeout_s)
            state, report = await restore_state(
                self._consumer,
                topic=self.topic,
                snapshot_topic=self.snapshot_topic,
                partitions=len(self._partition_ids),
                aggregate_type=self.aggregate_type,
                registry=self.registry,
                window=self.dedupe_window,
                idle_timeout_s=self.timeout_s,
                on_progress=self.on_progress,
            )
            self._state = state
            self._stale = None
            self._since_snapshot = 0
            self._runs = report.snapshot_run
            self.last_restore = report
            if report.snapshot_unused:
                log.warning("snapshots of %s not used: %s", self.topic, report.snapshot_unused)
            return report

    async def _settle_producer(self) -> None:
        """Wait until the producer of a save in doubt has delivered or given up, so that
        nothing it holds lands after the restore has read the topic."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await with_timeout("a save in doubt", producer.stop(), 3 * self.timeout_s)
        self._producer = await with_timeout(
            f"Kafka at {self.bootstrap_servers}", self._new_producer(), self.timeout_s
        )
        if self._lease is not None:
            self._lease.use(self._producer)

    async def close(self) -> None:
        """Finish a running snapshot, free the writer lease, and close the clients."""
        task, self._snapshotting = self._snapshotting, None
        if task is not None:
            with contextlib.suppress(Exception):
                await task
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.release()
        self._stale = "closed"
        for client in (self._producer, self._consumer):
            if client is not None:
                with contextlib.suppress(Exception):  # closing; the broker may be away
                    await asyncio.wait_for(client.stop(), self.timeout_s)
        self._producer = self._consumer = None

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def stale(self) -> str | None:
        """Why the repository refuses commands (None while it accepts them)."""
        if self._stale is None and self._lease is not None and not self._lease.held:
            self._stale = "the writer lease lapsed: no renewal was acknowledged in time"
        return self._stale

    def _writable(self) -> RepositoryState[A]:
        reason = self.stale
        if reason is not None:
            raise StaleRepositoryError(f"{self.topic}: {reason}; restore the repository")
        return self._state

    # -- reading ---------------------------------------------------------------------------

    async def load(self, aggregate_id: str) -> A:
        """A copy of the aggregate as the topic holds it; NotFoundError if it has no event."""
        found = self._writable().aggregates.get(aggregate_id)
        if found is None:
            raise NotFoundError(self.aggregate_type.stream_type, aggregate_id)
        return found.model_copy(deep=True)

    async def exists(self, aggregate_id: str) -> bool:
        """Whether the aggregate has any event."""
        return aggregate_id in self._state.aggregates

    async def catch_up(self, aggregate: A) -> A:
        """The aggregate as stored now (a fresh copy; ``aggregate`` must have no pending
        events)."""
        if aggregate.pending_events:
            raise ValueError("cannot catch up an aggregate with pending events")
        return await self.load(aggregate.id)

    def aggregate_ids(self) -> list[str]:
        """The ids of every aggregate held."""
        return list(self._state.aggregates)

    # -- writing ---------------------------------------------------------------------------

    async def save(
        self,
        aggregate: A,
        *,
        metadata: Mapping[str, Any] | None = None,
        event_ids: Sequence[uuid.UUID] | None = None,
        expected_version: ExpectedVersion | None = None,
    ) -> AppendResult:
        """Write the aggregate's pending events to the topic, then apply them in memory.

        Raises ConcurrencyError if the aggregate is not at ``expected_version`` (by default
        the version it was loaded at), StaleRepositoryError if the repository is stale or the
        broker did not acknowledge in ``timeout_s`` (the repository is stale from then on).
        Event ids written before answer that write with ``deduplicated=True``.
        """
        pending = aggregate.pending_events
        ids = list(event_ids) if event_ids is not None else [uuid7() for _ in pending]
        if len(ids) < len(pending):
            raise ValueError(f"{len(pending)} pending events but {len(ids)} event ids")
        async with self._lock:
            state = self._writable()
            earlier = self._earlier_write(ids[: len(pending)])
            if earlier is not None:
                return earlier
            stored = state.aggregates.get(aggregate.id)
            actual = 0 if stored is None else stored.version
            expected = aggregate.stored_version if expected_version is None else expected_version
            _check_version(aggregate.id, expected, actual)
            if not pending:
                return AppendResult(aggregate.id, actual, state.last_positions.get(aggregate.id, 0))
            await self._write(aggregate.id, actual, pending, ids, metadata or {})
            if stored is None:
                stored = state.aggregates[aggregate.id] = self.aggregate_type(id=aggregate.id)
            stored.apply_all(pending)
            aggregate.mark_saved()
            self._since_snapshot += len(pending)
            result = AppendResult(aggregate.id, stored.version, state.position)
        self._snapshot_if_due()
        return result

    def _earlier_write(self, ids: Sequence[uuid.UUID]) -> AppendResult | None:
        if not ids:
            return None
        seen = self._state.seen
        first = seen.get(str(ids[0]))
        if first is None:
            return None
        stream_id, _, _, _ = first
        _, version, position, _ = seen.get(str(ids[-1])) or first
        return AppendResult(stream_id, version, position, deduplicated=True)

    async def _write(
        self,
        stream_id: str,
        version: int,
        pending: Sequence[Any],
        ids: Sequence[uuid.UUID],
        metadata: Mapping[str, Any],
    ) -> None:
        """Send the events as one record batch and wait for the acknowledgement."""
        state = self._state
        producer = self._producer
        assert producer is not None  # a writable repository is open
        now = datetime.now(UTC)
        key = stream_id.encode()
        partition = self._partitioner(key, self._partition_ids, self._partition_ids)
        batch = producer.create_batch()
        records = []
        for offset, (event, event_id) in enumerate(zip(pending, ids, strict=False), start=1):
            _, value, headers = encode_event(
                event,
                event_id=event_id,
                stream_id=stream_id,
                stream_type=self.aggregate_type.stream_type,
                version=version + offset,
                position=state.position + offset,
                recorded_at=now,
                metadata=metadata,
            )
            if batch.append(timestamp=None, key=key, value=value, headers=headers) is None:
                raise ValueError(f"the {len(pending)} events of {stream_id!r} exceed one batch")
            records.append((str(event_id), version + offset, state.position + offset))
        batch.close()
        try:
            sent = await producer.send_batch(batch, self.topic, partition=partition)
            metadata_ = await asyncio.wait_for(sent, self.timeout_s)
        except (KafkaError, TimeoutError, OSError) as exc:
            self._stale = f"a save of {stream_id!r} got no acknowledgement ({exc!r})"
            raise StaleRepositoryError(
                f"{self.topic}: {self._stale}; it may or may not be on the topic, so the "
                "repository refuses commands until restored"
            ) from exc
        state.ends[partition] = int(metadata_.offset) + len(records)
        fingerprint = metadata.get("request_fingerprint")
        for written_id, event_version, position in records:
            state.remember(
                written_id,
                (
                    stream_id,
                    event_version,
                    position,
                    fingerprint if isinstance(fingerprint, str) else "",
                ),
            )
        state.position += len(records)
        state.last_positions[stream_id] = state.position

    async def earlier_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """What an earlier handling of ``command_id`` did, as far as memory knows."""
        seen = self._state.seen
        first = seen.get(str(derive_uuid7(command_id, 0)))
        if first is None:
            return self._outcomes.get(command_id)
        last = first
        for index in range(1, 10_000):
            following = seen.get(str(derive_uuid7(command_id, index)))
            if following is None:
                break
            last = following
        stream_id, _, _, fingerprint = first
        _, version, position, _ = last
        return CommandOutcome(command_id, stream_id, version, position, fingerprint)

    async def keep_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """Keep the outcome of a command that recorded no event, in memory only: it is
        forgotten on restart (nothing is written to the topic for it)."""
        kept = self._outcomes.setdefault(outcome.command_id, outcome)
        if len(self._outcomes) > self.dedupe_window:
            self._outcomes.pop(next(iter(self._outcomes)))
        return kept

    # -- snapshots -------------------------------------------------------------------------

    def _snapshot_if_due(self) -> None:
        every = self.snapshot_every
        if every is None or self._since_snapshot < every:
            return
        if self._snapshotting is None or self._snapshotting.done():
            self._snapshotting = asyncio.create_task(self._background_snapshot())

    async def _background_snapshot(self) -> None:
        try:
            await self.snapshot()
        except Exception:  # the events are safe; a missing snapshot costs a longer restore
            log.warning("snapshot run of %s failed", self.topic, exc_info=True)

    async def snapshot(self) -> int:
        """Write a snapshot of every aggregate changed since the last run, then a manifest;
        returns how many aggregates it wrote. Raises StaleRepositoryError when stale."""
        if self.snapshot_topic is None:
            raise ValueError(f"{self.topic}: snapshots are turned off (snapshots=False)")
        async with self._lock:  # a consistent cut: no save between the states and offsets
            state = self._writable()
            recent = self._recent_by_stream()
            taken = [
                AggregateSnapshot(
                    stream_id,
                    aggregate.version,
                    self.aggregate_type.snapshot_schema_version,
                    aggregate.snapshot_state(),
                    recent.get(stream_id, []),
                )
                for stream_id, aggregate in state.aggregates.items()
                if state.snapshotted.get(stream_id) != aggregate.version
            ]
            self._runs += 1
            manifest = Manifest(
                {p: state.ends.get(p, 0) for p in self._partition_ids},
                state.position,
                self._runs,
            )
            self._since_snapshot = 0
            producer = self._producer
        assert producer is not None
        assert self.snapshot_topic is not None
        await write_run(producer, self.snapshot_topic, taken, manifest, timeout_s=self.timeout_s)
        for snapshot in taken:
            state.snapshotted[snapshot.stream_id] = snapshot.version
        return len(taken)

    def _recent_by_stream(self) -> dict[str, list[list[Any]]]:
        recent: dict[str, list[list[Any]]] = {}
        for event_id, (stream_id, version, position, fingerprint) in self._state.seen.items():
            kept = recent.setdefault(stream_id, [])
            kept.append([event_id, version, position, fingerprint])
            if len(kept) > _RECENT_PER_SNAPSHOT:
                del kept[0]
        return recent


def _check_version(stream_id: str, expected: ExpectedVersion, actual: int) -> None:
    if expected is ANY:
        return
    if expected is NO_STREAM:
        ok = actual == 0
    elif expected is STREAM_EXISTS:
        ok = actual > 0
    else:
        ok = expected == actual
    if not ok:
        raise ConcurrencyError(stream_id, expected, actual)
