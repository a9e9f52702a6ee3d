"""Filling a Kafka topic fast with events in the Kafka repository's envelope.

For tests and benchmarks that need a topic of many events (a million, say) without saving
them one by one through a repository: records go out through one batched producer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from eskit.domain.events import Event
from eskit.messaging.kafka_repository.codec import encode_event

__all__ = ["TopicEvent", "produce_events"]

TopicEvent = tuple[str, str, int, int, Event]
"""One event to write: stream id, stream type, version, position, the event."""


async def produce_events(servers: str, topic: str, events: Iterable[TopicEvent]) -> None:
    """Write ``events`` to ``topic`` in order per stream (keyed by stream id), each with a
    fresh event id, waiting for every acknowledgement."""
    producer = AIOKafkaProducer(
        bootstrap_servers=servers, acks="all", linger_ms=20, max_batch_size=1024 * 1024
    )
    await producer.start()
    now = datetime.now(UTC)
    try:
        pending = []
        for stream_id, stream_type, version, position, event in events:
            key, value, headers = encode_event(
                event,
                event_id=uuid.uuid4(),
                stream_id=stream_id,
                stream_type=stream_type,
                version=version,
                position=position,
                recorded_at=now,
                metadata={},
            )
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
