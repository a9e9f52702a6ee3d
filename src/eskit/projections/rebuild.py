"""Rebuilding a read model from the first event, while the old one keeps answering queries.

The projection runs from position 0 into shadow tables (``<table>__rebuild``) under a
checkpoint of their own. When it has caught up, one transaction swaps them in: it locks
the live tables, checks that the shadow is not behind the live checkpoint (else it catches
up again), drops the live tables, renames the shadow ones into place and sets the live
checkpoint to the shadow's. A runner of the live projection elsewhere notices that its
checkpoint moved, rolls back its batch and goes on from the new position.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from eskit.errors import ConfigurationError
from eskit.projections.lag import measure_lag
from eskit.projections.projection import Projection, ProjectionContext
from eskit.projections.readmodel import SHADOW_SUFFIX
from eskit.projections.schema import create_tables
from eskit.projections.worker import ProjectionWorker
from eskit.store.port import EventStoreBackend
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork, require_transactions

__all__ = ["RebuildResult", "rebuild", "require_rebuildable"]

Progress = Callable[[int, int], None]
"""Called with (events handled so far, events to handle in all) after each batch."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild did."""

    name: str
    events: int
    position: int
    seconds: float


async def rebuild(
    store: EventStoreBackend,
    projection: Projection,
    *,
    batch_size: int = 2000,
    progress: Progress | None = None,
    inline: bool = False,
) -> RebuildResult:
    """Rebuild ``projection``'s read models from the first event and swap them in.

    Pass ``inline=True`` for a projection that :class:`InlineProjections` keeps: it has no
    checkpoint to go by, so the swap also applies every committed event of the log, even
    those the read horizon still holds back (its appends wait on the locked tables).
    If the rebuild fails, its shadow tables are dropped and the live ones stay as they were.
    """
    require_rebuildable(projection)
    started = time.perf_counter()
    db = require_transactions(store, "rebuilds")
    shadow = {m.name: m.name + SHADOW_SUFFIX for m in projection.read_models}
    name = projection.name
    worker = ProjectionWorker(
        projection, db, checkpoint_name=name + SHADOW_SUFFIX, tables=shadow, batch_size=batch_size
    )
    async with db.transaction() as tx:
        await _fresh_shadow(tx, projection, shadow, worker.name)
    await worker.load()
    worker.parked = await db.committed.dead_letters.positions(name)
    total, _ = await measure_lag(
        db,
        0,
        await db.last_position(),
        event_types=projection.event_types,
        stream_types=_stream_types(projection),
    )
    handled = 0
    while True:  # catch up outside the swap, so that it holds its locks briefly
        before = worker.events_handled
        if not await worker.step():
            break
        handled += worker.events_handled - before
        if progress is not None:
            progress(handled, max(total, handled))
    try:
        async with db.transaction() as tx:
            in_swap = await _swap(tx, projection, worker, inline=inline)
    except BaseException:
        with contextlib.suppress(Exception):  # the original error matters more
            await _drop_shadow(db, projection, shadow, worker.name)
        raise
    handled += in_swap
    if progress is not None and in_swap:
        progress(handled, max(total, handled))
    return RebuildResult(name, handled, worker.position, time.perf_counter() - started)


def require_rebuildable(projection: Projection) -> None:
    """Return if ``projection`` may be rebuilt; ConfigurationError saying why not for one
    whose history must not run again (``rebuildable = False``: a saga, a reactor), or for
    what is no projection at all (a subscription, an asynchronous reactor: no read model
    to rebuild, and effects that running their history again would repeat)."""
    if not isinstance(projection, Projection):
        name = getattr(projection, "name", type(projection).__name__)
        raise ConfigurationError(
            f"{name} cannot be rebuilt: it is no projection, so it has no read model to "
            "rebuild, and running its history again would repeat its effects"
        )
    if not projection.rebuildable:
        raise ConfigurationError(
            f"{projection.name} cannot be rebuilt: running its history again would repeat "
            "what it did (the commands a saga issued, a reactor's effects)"
        )


def _stream_types(projection: Projection) -> list[str] | None:
    return list(projection.stream_types) if projection.stream_types is not None else None


async def _drop(tx: UnitOfWork, tables: list[str]) -> None:
    for table in reversed(tables):
        await tx.schema.drop(table)


async def _fresh_shadow(
    tx: UnitOfWork, projection: Projection, shadow: dict[str, str], checkpoint: str
) -> None:
    for model in projection.read_models:
        await _drop(tx, model.table_names(shadow[model.name]))
    await create_tables(tx, projection.read_models, shadow)
    await tx.checkpoints.reset(checkpoint, 0)


async def _drop_shadow(
    store: TransactionalStore, projection: Projection, shadow: dict[str, str], checkpoint: str
) -> None:
    async with store.transaction() as tx:
        for model in projection.read_models:
            await _drop(tx, model.table_names(shadow[model.name]))
        await tx.checkpoints.delete(checkpoint)


async def _swap(
    tx: UnitOfWork, projection: Projection, worker: ProjectionWorker, *, inline: bool
) -> int:
    """Finish the catch-up under lock, then put the shadow tables in place; returns events handled."""
    # tables first, then the checkpoint, in the order a live runner takes them; from here
    # on no live runner and no inline append can commit to these tables
    await tx.schema.lock([t for m in projection.read_models for t in m.table_names(m.name)])
    live = await tx.checkpoints.hold(projection.name)
    handled = await worker.catch_up_in(tx)
    if inline:
        handled += await _apply_held_back(tx, projection, worker)
    if worker.position < live:  # a live runner saw events this transaction cannot: unheard of
        raise RuntimeError(
            f"the rebuild of {projection.name} reached {worker.position}, behind the live {live}"
        )
    for model in projection.read_models:
        await _drop(tx, model.table_names(model.name))
        shadow_tables = model.table_names(model.name + SHADOW_SUFFIX)
        for old, new in zip(shadow_tables, model.table_names(model.name), strict=True):
            await tx.schema.rename(old, new)
    await tx.checkpoints.reset(projection.name, worker.position)
    await tx.checkpoints.delete(worker.name)
    return handled


async def _apply_held_back(tx: UnitOfWork, projection: Projection, worker: ProjectionWorker) -> int:
    """Committed events beyond the read horizon, which inline appends already applied live."""
    page = await tx.read_page(
        after=worker.position,
        limit=1_000_000,
        event_types=worker.event_types,
        stream_types=worker.stream_types,
        visible_only=False,
    )
    if page.events:
        await projection.handle_batch(ProjectionContext(tx, worker.tables), page.events)
    return len(page.events)
