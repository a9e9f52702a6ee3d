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

from eskit.projections import checkpoints
from eskit.projections.checkpoints import sql_for
from eskit.projections.database import ReadDatabase, read_database
from eskit.projections.lag import measure_lag
from eskit.projections.log import read_log
from eskit.projections.projection import Projection, ProjectionContext
from eskit.projections.readmodel import SHADOW_SUFFIX, table_exists
from eskit.projections.schema import create_tables
from eskit.projections.session import Session
from eskit.projections.worker import ProjectionWorker
from eskit.store.port import EventStoreBackend

__all__ = ["RebuildResult", "rebuild"]

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
    started = time.perf_counter()
    db = read_database(store)
    shadow = {m.name: m.name + SHADOW_SUFFIX for m in projection.read_models}
    name = projection.name
    worker = ProjectionWorker(
        projection, db, checkpoint_name=name + SHADOW_SUFFIX, tables=shadow, batch_size=batch_size
    )
    await db.transaction(lambda s: _fresh_shadow(s, projection, shadow, worker.name))
    await worker.load()
    worker.parked = await _parked_of(db, name)
    total, _ = await measure_lag(
        db,
        0,
        await store.last_position(),
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
        in_swap = await db.transaction(lambda s: _swap(s, projection, worker, inline=inline))
    except BaseException:
        with contextlib.suppress(Exception):  # the original error matters more
            await _drop_shadow(db, projection, shadow, worker.name)
        raise
    handled += in_swap
    if progress is not None and in_swap:
        progress(handled, max(total, handled))
    return RebuildResult(name, handled, worker.position, time.perf_counter() - started)


def _stream_types(projection: Projection) -> list[str] | None:
    return list(projection.stream_types) if projection.stream_types is not None else None


async def _parked_of(db: ReadDatabase, name: str) -> set[int]:
    from eskit.projections.dead_letters import parked_positions

    return await parked_positions(db, name)


async def _drop(session: Session, tables: list[str]) -> None:
    for table in reversed(tables):
        if await table_exists(session, table):
            await session.execute(f"DROP TABLE {table}")


async def _fresh_shadow(
    session: Session, projection: Projection, shadow: dict[str, str], checkpoint: str
) -> None:
    for model in projection.read_models:
        await _drop(session, model.table_names(shadow[model.name]))
    await create_tables(session, projection.read_models, shadow)
    await checkpoints.reset(session, checkpoint, 0)


async def _drop_shadow(
    db: ReadDatabase, projection: Projection, shadow: dict[str, str], checkpoint: str
) -> None:
    async def work(session: Session) -> None:
        for model in projection.read_models:
            await _drop(session, model.table_names(shadow[model.name]))
        await session.execute(
            sql_for(session.dialect, "DELETE FROM eskit_checkpoints WHERE name = ?"), (checkpoint,)
        )

    await db.transaction(work)


async def _swap(
    session: Session, projection: Projection, worker: ProjectionWorker, *, inline: bool
) -> int:
    """Finish the catch-up under lock, then put the shadow tables in place; returns events handled."""
    live_tables = [t for m in projection.read_models for t in m.table_names(m.name)]
    if session.dialect == "postgres":
        # tables first, then the checkpoint, in the order a live runner takes them; from
        # here on no live runner and no inline append can commit to these tables
        for table in live_tables:
            if await table_exists(session, table):
                await session.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    lock = " FOR UPDATE" if session.dialect == "postgres" else ""
    rows = await session.fetch(
        sql_for(session.dialect, f"SELECT position FROM eskit_checkpoints WHERE name = ?{lock}"),
        (projection.name,),
    )
    live = int(rows[0][0]) if rows else 0
    handled = await worker.catch_up_in(session)
    if inline:
        handled += await _apply_held_back(session, projection, worker)
    if worker.position < live:  # a live runner saw events this transaction cannot: unheard of
        raise RuntimeError(
            f"the rebuild of {projection.name} reached {worker.position}, behind the live {live}"
        )
    for model in projection.read_models:
        await _drop(session, model.table_names(model.name))
        shadow_tables = model.table_names(model.name + SHADOW_SUFFIX)
        for old, new in zip(shadow_tables, model.table_names(model.name), strict=True):
            await session.execute(f"ALTER TABLE {old} RENAME TO {new}")
    await checkpoints.reset(session, projection.name, worker.position)
    await session.execute(
        sql_for(session.dialect, "DELETE FROM eskit_checkpoints WHERE name = ?"), (worker.name,)
    )
    return handled


async def _apply_held_back(
    session: Session, projection: Projection, worker: ProjectionWorker
) -> int:
    """Committed events beyond the read horizon, which inline appends already applied live."""
    batch = await read_log(
        session,
        after=worker.position,
        limit=1_000_000,
        event_types=worker.event_types,
        stream_types=worker.stream_types,
        visible_only=False,
    )
    if batch:
        await projection.handle_batch(ProjectionContext(session, worker.tables), batch)
    return len(batch)
