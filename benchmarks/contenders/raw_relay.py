"""A relay written by hand on psycopg and the broker's client: the limit for eskit's relay.

It reads a page of the log (every column as text, cast by PostgreSQL), publishes it with
the same headers eskit sends, waits for the broker, and moves a checkpoint row: what any
outbox relay has to do, with nothing else (no read horizon, no status, no retries).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from nats.js.client import JetStreamContext

__all__ = ["raw_relay_kafka", "raw_relay_nats", "send_kafka_batches"]

PAGE = """
SELECT position, event_id::text, stream_id, stream_type, event_type,
       schema_version::text, version::text, position::text AS at, recorded_at::text, data::text
FROM eskit_events WHERE position > %s ORDER BY position LIMIT %s
"""
NAMES = (
    "eskit-event-id",
    "eskit-stream-id",
    "eskit-stream-type",
    "eskit-event-type",
    "eskit-schema-version",
    "eskit-version",
    "eskit-position",
    "eskit-recorded-at",
)
Row = tuple[Any, ...]
Publish = Callable[[list[Row]], Awaitable[None]]


async def _relay(url: str, batch: int, publish: Publish) -> float:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            b"CREATE TABLE IF NOT EXISTS raw_relay (name text PRIMARY KEY, position bigint)"
        )
        await conn.execute(b"INSERT INTO raw_relay VALUES ('raw', 0) ON CONFLICT DO NOTHING")
        position, sent = 0, 0
        started = time.perf_counter()
        while rows := await (await conn.execute(PAGE, (position, batch))).fetchall():
            await publish(rows)
            position = rows[-1][0]
            await conn.execute(
                b"UPDATE raw_relay SET position = %s WHERE name = 'raw'", (position,)
            )
            sent += len(rows)
        return sent / (time.perf_counter() - started)


async def send_kafka_batches(
    producer: AIOKafkaProducer, topic: str, records: list[tuple[bytes, bytes, Any]]
) -> None:
    """Send (key, value, headers) records in record batches per partition; wait for acks."""
    partitions = sorted(await producer.partitions_for(topic))
    pending = []
    for partition, builders in _kafka_batches(producer, partitions, records).items():
        for builder in builders:
            builder.close()
            pending.append(await producer.send_batch(builder, topic, partition=partition))
    await asyncio.gather(*pending)


def _kafka_batches(
    producer: AIOKafkaProducer, partitions: list[int], records: list[tuple[bytes, bytes, Any]]
) -> dict[int, list[Any]]:
    """(key, value, headers) records in record batches per partition, in order."""
    partitioner = DefaultPartitioner()
    batches: dict[int, list[Any]] = {}
    for key, value, headers in records:
        builders = batches.setdefault(partitioner(key, partitions, partitions), [])
        record = {"timestamp": None, "key": key, "value": value, "headers": headers}
        if not builders or builders[-1].append(**record) is None:
            builders.append(producer.create_batch())
            builders[-1].append(**record)
    return batches


async def raw_relay_kafka(url: str, servers: str, topic: str, batch: int) -> float:
    """Events per second relayed from the log to ``topic``."""
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", max_batch_size=512 * 1024, max_request_size=1 << 20
    )
    await producer.start()

    async def publish(rows: list[Row]) -> None:
        records = [
            (
                r[2].encode(),
                r[9].encode(),
                [(n, v.encode()) for n, v in zip(NAMES, r[1:9], strict=True)],
            )
            for r in rows
        ]
        await send_kafka_batches(producer, topic, records)

    try:
        return await _relay(url, batch, publish)
    finally:
        await producer.stop()


async def raw_relay_nats(url: str, js: JetStreamContext, prefix: str, batch: int) -> float:
    """Events per second relayed from the log to the stream of ``prefix``."""

    async def publish(rows: list[Row]) -> None:
        pending = [
            await js.publish_async(
                f"{prefix}.{r[3]}.{r[2]}",
                r[9].encode(),
                headers={**dict(zip(NAMES, r[1:9], strict=True)), "Nats-Msg-Id": r[1]},
            )
            for r in rows
        ]
        await asyncio.gather(*pending)

    return await _relay(url, batch, publish)
