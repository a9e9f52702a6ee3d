"""The Kafka adapter of the bus port, on aiokafka.

A stream type's messages go to one topic (``Topology.topic``) keyed by the stream's id, so
Kafka's partitioner keeps each stream in one partition and in order. A group member commits
a partition's offset only up to its first message not yet acknowledged, so a member that
dies leaves nothing unhandled behind the committed offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import OffsetAndMetadata

from eskit.messaging.errors import BusUnavailableError
from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.messaging.topology import Topology

__all__ = ["KafkaBus"]

_TOPIC_EXISTS = 36  # Kafka's TOPIC_ALREADY_EXISTS error code


class KafkaBus:
    """A bus on a Kafka cluster (or a Kafka-protocol broker such as Tansu or Redpanda)."""

    keeps_key_order = True
    """See ``Bus.keeps_key_order``."""

    def __init__(
        self,
        bootstrap_servers: str,
        topology: Topology | None = None,
        *,
        partitions: int = 8,
        timeout_s: float = 10.0,
        session_timeout_s: float = 10.0,
        fetch_wait_ms: int = 10,
        linger_ms: int = 0,
        max_batch_bytes: int = 512 * 1024,
    ) -> None:
        self.topology = topology or Topology()
        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
        self.timeout_s = timeout_s
        self.session_timeout_s = session_timeout_s
        """How long a silent member keeps its partitions; some brokers (Tansu) also wait
        about half of it for more members before a group's first assignment."""
        self.fetch_wait_ms = fetch_wait_ms
        """How long the broker may hold a fetch with nothing to return: an idle member asks
        again that often, and a new message waits at most that long for it."""
        self._linger_ms = linger_ms
        self.max_batch_bytes = max_batch_bytes
        """The largest record batch sent to one partition in one request."""
        self._partitioner = DefaultPartitioner()  # Kafka's murmur2: the Java client's choice
        self._partitions: dict[tuple[bytes, int], int] = {}
        self._producer: AIOKafkaProducer | None = None
        self._topics: set[str] = set()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send ``messages`` and wait until the broker acknowledged every one."""
        try:
            await asyncio.wait_for(self._publish(messages), self.timeout_s)
        except (KafkaError, TimeoutError, OSError) as exc:
            await self._drop_producer()
            raise BusUnavailableError(
                f"Kafka at {self.bootstrap_servers} did not acknowledge "
                f"{len(messages)} message(s): {exc!r}"
            ) from exc

    async def _publish(self, messages: Sequence[OutgoingMessage]) -> None:
        producer = await self._ready_producer()
        by_topic: dict[str, list[OutgoingMessage]] = {}
        for message in messages:
            by_topic.setdefault(self.topology.topic(message.stream_type), []).append(message)
        await self.ensure_topics(set(by_topic))
        pending = []
        for topic, batch in by_topic.items():
            for partition, builders in (await self._batches(producer, topic, batch)).items():
                for builder in builders:
                    builder.close()
                    pending.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*pending)

    async def _batches(
        self, producer: AIOKafkaProducer, topic: str, messages: list[OutgoingMessage]
    ) -> dict[int, list[BatchBuilder]]:
        """``messages`` in record batches per partition, in order; built here rather than
        one ``send`` each, which costs a future and a lookup per message."""
        partitions = sorted(await producer.partitions_for(topic))
        batches: dict[int, list[BatchBuilder]] = {}
        for message in messages:
            key = message.key.encode()
            partition = self._partition(key, partitions)
            headers = [("eskit-message-id", message.message_id.encode())]
            headers += [(name, value.encode()) for name, value in message.headers.items()]
            builders = batches.setdefault(partition, [])
            if not builders or not _append(builders[-1], key, message.body, headers):
                builders.append(producer.create_batch())
                if not _append(builders[-1], key, message.body, headers):
                    raise BusUnavailableError(
                        f"message {message.message_id} is larger than a Kafka batch "
                        f"({self.max_batch_bytes} bytes)"
                    )
        return batches

    def _partition(self, key: bytes, partitions: list[int]) -> int:
        """The partition of ``key``, as any Kafka client would choose it (cached: a stream
        publishes many events)."""
        cache_key = (key, len(partitions))
        partition = self._partitions.get(cache_key)
        if partition is None:
            if len(self._partitions) >= 100_000:
                self._partitions.clear()
            partition = self._partitions[cache_key] = self._partitioner(key, partitions, partitions)
        return partition

    async def _ready_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                acks="all",
                linger_ms=self._linger_ms,
                max_batch_size=self.max_batch_bytes,
                max_request_size=max(self.max_batch_bytes, 1_048_576),
                request_timeout_ms=int(self.timeout_s * 1000),
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        # a producer whose broker went away may hold batches it will never send: start
        # over so the batch sent again is the only copy in flight
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):  # it is being thrown away
                await asyncio.wait_for(producer.stop(), 1.0)

    async def ensure_topics(self, topics: set[str]) -> None:
        """Create the topics this process has not seen yet (existing ones are kept)."""
        missing = topics - self._topics
        if not missing:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            response = await admin.create_topics(
                [NewTopic(t, num_partitions=self.partitions, replication_factor=1) for t in missing]
            )
        finally:
            await admin.close()
        for topic, code, *_ in response.topic_errors:
            if code not in (0, _TOPIC_EXISTS):
                raise BusUnavailableError(f"Kafka refused to create topic {topic!r}: code {code}")
        self._topics |= missing

    def consumer(self, group: str, stream_types: Sequence[str]) -> KafkaConsumer:
        """A member of ``group`` reading ``stream_types``' topics."""
        topics = sorted({self.topology.topic(t) for t in stream_types})
        return KafkaConsumer(self, group, topics)

    async def close(self) -> None:
        """Stop the producer, flushing what it holds."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


@dataclass(frozen=True, slots=True)
class _Handle:
    partition: TopicPartition
    offset: int
    epoch: int


class _Progress:
    """What one member holds of one partition: delivered offsets not yet acknowledged."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.outstanding: set[int] = set()
        self.next_offset = -1

    def commit_offset(self) -> int:
        return min(self.outstanding, default=self.next_offset)


class KafkaConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    """A member of a Kafka consumer group; see ``eskit.messaging.port.BusConsumer``."""

    def __init__(self, bus: KafkaBus, group: str, topics: list[str]) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._client: AIOKafkaConsumer | None = None
        self._progress: dict[TopicPartition, _Progress] = {}
        self._attempts: dict[tuple[TopicPartition, int], int] = {}
        self._paused_until: dict[TopicPartition, float] = {}
        self._epochs = 0

    async def __aenter__(self) -> Self:
        await self._bus.ensure_topics(set(self._topics))
        client = AIOKafkaConsumer(
            bootstrap_servers=self._bus.bootstrap_servers,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=int(self._bus.timeout_s * 1000),
            session_timeout_ms=int(self._bus.session_timeout_s * 1000),
            heartbeat_interval_ms=int(self._bus.session_timeout_s * 200),
            fetch_max_wait_ms=self._bus.fetch_wait_ms,
        )
        await client.start()
        client.subscribe(self._topics, listener=self)
        self._client = client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.stop()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        """Forget what this member held of partitions it no longer owns."""
        for partition in revoked:
            self._progress.pop(partition, None)
            self._paused_until.pop(partition, None)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        """Nothing to do: reading starts at the group's committed offset."""

    async def fetch(self, max_messages: int, timeout_s: float) -> Sequence[Delivery]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s`` for the first."""
        client = self._ready()
        self._resume_due(client)
        try:
            batches = await client.getmany(
                timeout_ms=int(self._wait_s(timeout_s) * 1000), max_records=max_messages
            )
        except KafkaError as exc:
            raise BusUnavailableError(f"Kafka consumer of {self._group!r}: {exc!r}") from exc
        return [
            self._deliver(partition, record)
            for partition, records in batches.items()
            for record in records
        ]

    def _wait_s(self, timeout_s: float) -> float:
        dues = [due - time.monotonic() for due in self._paused_until.values()]
        return max(0.0, min([timeout_s, *dues]))

    def _resume_due(self, client: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        for partition, due in list(self._paused_until.items()):
            if due <= now:
                del self._paused_until[partition]
                client.resume(partition)

    def _deliver(self, partition: TopicPartition, record: ConsumerRecord[Any, Any]) -> Delivery:
        progress = self._progress.get(partition)
        if progress is None:
            self._epochs += 1
            progress = self._progress[partition] = _Progress(self._epochs)
        progress.outstanding.add(record.offset)
        progress.next_offset = record.offset + 1
        attempt = self._attempts[(partition, record.offset)] = (
            self._attempts.get((partition, record.offset), 0) + 1
        )
        headers = {name: value.decode() for name, value in record.headers}
        return Delivery(
            message_id=headers.pop("eskit-message-id", ""),
            topic=record.topic,
            key=(record.key or b"").decode(),
            body=record.value or b"",
            headers=headers,
            attempt=attempt,
            handle=_Handle(partition, record.offset, progress.epoch),
        )

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge handled messages and commit each partition as far as it is done."""
        touched: set[TopicPartition] = set()
        for delivery in deliveries:
            handle = _handle(delivery)
            progress = self._progress.get(handle.partition)
            if progress is None or progress.epoch != handle.epoch:
                continue  # rewound or handed to another member since: it comes again
            progress.outstanding.discard(handle.offset)
            self._attempts.pop((handle.partition, handle.offset), None)
            touched.add(handle.partition)
        offsets = {p: OffsetAndMetadata(self._progress[p].commit_offset(), "") for p in touched}
        if offsets:
            try:
                await self._ready().commit(offsets)
            except KafkaError as exc:
                raise BusUnavailableError(f"Kafka commit of {self._group!r}: {exc!r}") from exc

    async def retry_later(self, delivery: Delivery, delay_s: float) -> None:
        """Rewind the partition to ``delivery`` and hold it back for ``delay_s``.

        A partition is ordered: the messages after this one come again after it.
        """
        client = self._ready()
        handle = _handle(delivery)
        progress = self._progress.pop(handle.partition, None)
        if progress is None or progress.epoch != handle.epoch:
            return
        client.seek(handle.partition, handle.offset)
        client.pause(handle.partition)
        self._paused_until[handle.partition] = time.monotonic() + delay_s

    def _ready(self) -> AIOKafkaConsumer:
        if self._client is None:
            raise RuntimeError("use the consumer inside 'async with'")
        return self._client


def _append(builder: BatchBuilder, key: bytes, body: bytes, headers: list[Any]) -> bool:
    """Whether ``builder`` took the record (False: it is full)."""
    return builder.append(timestamp=None, key=key, value=body, headers=headers) is not None


def _handle(delivery: Delivery) -> _Handle:
    handle = delivery.handle
    if not isinstance(handle, _Handle):
        raise TypeError(f"{delivery.message_id}: not a delivery of this bus")
    return handle
