"""The topics a Kafka repository uses, created on first use, and reading one to its end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from eskit.errors import StoreUnavailableError

__all__ = ["Batch", "create_topics", "read_to_end"]

_TOPIC_EXISTS = 36  # Kafka's TOPIC_ALREADY_EXISTS error code

Batch = Sequence[ConsumerRecord[bytes, bytes]]


async def create_topics(
    bootstrap_servers: str, topics: dict[str, tuple[int, bool]], *, timeout_s: float
) -> None:
    """Create each topic (name: partitions, compacted) unless it exists already."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000)
    )
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs={"cleanup.policy": "compact"} if compacted else {},
                )
                for name, (partitions, compacted) in topics.items()
            ]
        )
    finally:
        await admin.close()
    for topic, code, *_ in response.topic_errors:
        if code not in (0, _TOPIC_EXISTS):
            raise StoreUnavailableError(f"Kafka refused to create topic {topic!r}: code {code}")


async def read_to_end(
    consumer: AIOKafkaConsumer,
    topic: str,
    starts: dict[int, int],
    handle: Callable[[int, Batch], Awaitable[None] | None],
    *,
    idle_timeout_s: float,
    on_read: Callable[[int, int], None] | None = None,
) -> dict[int, int]:
    """Read every partition of ``topic`` from ``starts`` up to (at least) the end it had
    when called, handing each partition's records to ``handle`` in batches, in offset order.

    Returns the offset after the last record read of each partition. ``on_read(read,
    total)`` follows progress. StoreUnavailableError if the broker sends nothing for
    ``idle_timeout_s``.
    """
    partitions = [TopicPartition(topic, p) for p in sorted(starts)]
    ends = {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    pending = [tp for tp in partitions if starts[tp.partition] < ends[tp.partition]]
    total = sum(ends[tp.partition] - starts[tp.partition] for tp in pending)
    read = 0
    if on_read is not None:
        on_read(0, total)
    consumer.assign(pending)
    for tp in pending:
        consumer.seek(tp, starts[tp.partition])
    left = set(pending)
    while left:
        batches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]] = await consumer.getmany(
            *left, timeout_ms=int(idle_timeout_s * 1000)
        )
        if not batches:
            raise StoreUnavailableError(
                f"Kafka sent nothing of topic {topic!r} for {idle_timeout_s:g} s while it "
                f"was read to its end ({read} of {total} records read)"
            )
        for tp, records in batches.items():
            if records:
                done = handle(tp.partition, records)
                if done is not None:
                    await done
                read += len(records)
                # a fetch returns whole record batches: records past the end asked for were
                # written after it was asked for, or belong to the last batch of a broker
                # that reports a batch's first offset as the end (Tansu 0.6); either way
                # they are read, and the end moves past them
                ends[tp.partition] = max(ends[tp.partition], records[-1].offset + 1)
            if not records or records[-1].offset + 1 >= ends[tp.partition]:
                left.discard(tp)
        if on_read is not None:
            on_read(read, max(read, total))
    consumer.assign([])
    return ends


async def with_timeout(what: str, step: Awaitable[Any], timeout_s: float) -> Any:
    """``step``'s result; StoreUnavailableError naming ``what`` if it takes over ``timeout_s``."""
    try:
        return await asyncio.wait_for(step, timeout_s)
    except TimeoutError:
        raise StoreUnavailableError(
            f"{what}: no answer from Kafka within {timeout_s:g} s"
        ) from None
