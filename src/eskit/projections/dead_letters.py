"""Parking: letting an operator move a poison event aside so its projection can go on.

Nothing is skipped silently: an event is skipped only once it is parked here, with the
error that stopped the projection, and the runner logs every skip.
"""

from __future__ import annotations

from datetime import UTC, datetime

from eskit.errors import NotFoundError
from eskit.projections.projection import Projection, ProjectionContext
from eskit.projections.subscription import Subscription
from eskit.store.bookkeeping import DeadLetter
from eskit.store.records import StoredEvent
from eskit.store.unit_of_work import TransactionalStore

__all__ = ["DeadLetter", "dead_letters", "park", "parked_positions", "replay", "unpark"]


async def park(
    store: TransactionalStore, projection: str, position: int | None = None
) -> DeadLetter:
    """Park the event at ``position`` (default: where ``projection`` is failing now)."""
    checkpoint = await store.committed.checkpoints.get(projection)
    if position is None:
        if checkpoint.error_position is None:
            raise NotFoundError("failing event of projection", projection, "it is not failing")
        position = checkpoint.error_position
    event = await _event_at(store, position)
    error = checkpoint.error if checkpoint.error_position == position else None
    letter = DeadLetter(
        projection,
        position,
        str(event.event_id),
        event.stream_id,
        event.event_type,
        error or "parked by an operator",
        datetime.now(UTC),
    )
    async with store.transaction() as tx:
        await tx.dead_letters.park(letter)
    return letter


async def unpark(store: TransactionalStore, projection: str, position: int) -> bool:
    """Forget a parked event (a rebuild will then apply it again); False if it was not parked."""
    async with store.transaction() as tx:
        return await tx.dead_letters.unpark(projection, position)


async def parked_positions(store: TransactionalStore, projection: str) -> set[int]:
    """Positions of the events parked for ``projection``."""
    return await store.committed.dead_letters.positions(projection)


async def dead_letters(
    store: TransactionalStore, projection: str | None = None
) -> list[DeadLetter]:
    """Parked events, of one projection or all, in position order."""
    return await store.committed.dead_letters.all(projection)


async def replay(
    store: TransactionalStore, projection: Projection | Subscription, position: int
) -> DeadLetter:
    """Apply the event parked at ``position`` to ``projection`` again (after a fix) and
    forget it: the read model's writes and the unparking commit together.

    Raises NotFoundError if no such event is parked for it; whatever the handler raises if
    it fails again (the event then stays parked, nothing is written). A subscription's
    handler has no transaction to share: it gets the event, and the event is unparked
    once it returned.
    """
    letters = {d.position: d for d in await dead_letters(store, projection.name)}
    letter = letters.get(position)
    if letter is None:
        raise NotFoundError(f"parked event of {projection.name} at position", str(position))
    event = await _event_at(store, position)
    if isinstance(projection, Subscription):
        await projection.handler([event])
        await unpark(store, projection.name, position)
        return letter
    async with store.transaction() as tx:
        ctx = ProjectionContext(tx)
        await projection.prefetch(ctx, [event])
        await projection.handle_each(ctx, [event])
        await ctx.flush()
        await tx.dead_letters.unpark(projection.name, position)
    projection.after_commit()
    return letter


async def _event_at(store: TransactionalStore, position: int) -> StoredEvent:
    found = await store.read_batch(after=position - 1, limit=1)
    if not found or found[0].position != position:
        raise NotFoundError("event at position", str(position))
    return found[0]
