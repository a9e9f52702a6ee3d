"""Projections fed from the bus: any ``Projection`` run behind a consumer.

The seed service builds its views from Kafka; this is how eskit does the same. The
projection's handlers run unchanged, each event in the transaction that records it in the
consumer's inbox, so each takes effect once; its read models are created before the first
batch. Several processes running the same consumer share the work through the consumer
group (Kafka partitions spread the streams over them): the answer for a read side that
outgrows one machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eskit.domain.events import Event
from eskit.messaging.consumer import Consumer, MessageContext
from eskit.messaging.envelope import IncomingEvent
from eskit.projections.projection import Projection, ProjectionContext
from eskit.projections.schema import ensure_tables
from eskit.store import StoredEvent, TransactionalStore
from eskit.store.unit_of_work import UnitOfWork

__all__ = ["projection_consumer", "stored_event"]

_METADATA_HEADERS = {
    "eskit-correlation-id": "correlation_id",
    "eskit-causation-id": "causation_id",
    "traceparent": "traceparent",
    "tracestate": "tracestate",
}


def stored_event(incoming: IncomingEvent) -> StoredEvent:
    """The stored event a message stands for, as a projection's handlers read it."""
    metadata = {
        key: incoming.headers[header]
        for header, key in _METADATA_HEADERS.items()
        if header in incoming.headers
    }
    return StoredEvent(
        position=incoming.position,
        stream_id=incoming.stream_id,
        stream_type=incoming.stream_type,
        version=incoming.version,
        event_id=incoming.event_id,
        event_type=incoming.event_type,
        schema_version=incoming.schema_version,
        data=incoming.data,
        metadata=metadata,
        recorded_at=incoming.headers["eskit-recorded-at"],
    )


def projection_consumer(
    projection: Projection,
    *,
    name: str | None = None,
    stream_types: Sequence[str] | None = None,
    max_attempts: int = 5,
) -> Consumer:
    """A consumer group (``name``, by default the projection's) running ``projection``.

    ``stream_types`` defaults to the projection's own; a projection of every stream type
    must name the types it reads, since a consumer reads topics, not the whole log.
    """
    types = stream_types or projection.stream_types
    if not types:
        raise ValueError(
            f"{projection.name}: name the stream types the consumer reads (stream_types=...)"
        )

    async def before(
        tx: UnitOfWork, events: Sequence[IncomingEvent], shared: dict[str, Any]
    ) -> None:
        # one context for the batch: its writers buffer, and flush once at the end
        context = shared["context"] = ProjectionContext(tx)
        records = shared["records"] = {e.event_id: stored_event(e) for e in events}
        await projection.prefetch(context, list(records.values()))

    async def handle(event: Event, ctx: MessageContext) -> None:
        context: ProjectionContext = ctx.batch["context"]
        context.record = ctx.batch["records"][ctx.incoming.event_id]
        await projection.handle_decoded(event, context)

    async def after(
        tx: UnitOfWork, events: Sequence[IncomingEvent], shared: dict[str, Any]
    ) -> None:
        await shared["context"].flush()

    async def prepare(store: TransactionalStore) -> None:
        await ensure_tables(store, projection.read_models)

    return Consumer(
        name=name or projection.name,
        stream_types=list(types),
        handlers=dict.fromkeys(projection.event_types, handle),
        registry=projection.registry,
        max_attempts=max_attempts,
        prepare=prepare,
        before_batch=before,
        after_batch=after,
    )
