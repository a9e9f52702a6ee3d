"""Parking: letting an operator move a poison event aside so its projection can go on.

Nothing is skipped silently: an event is skipped only once it is parked here, with the
error that stopped the projection, and the runner logs every skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eskit.errors import NotFoundError
from eskit.projections.checkpoints import load, sql_for
from eskit.projections.database import ReadDatabase
from eskit.projections.session import Session

__all__ = ["DeadLetter", "dead_letters", "park", "parked_positions", "unpark"]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A parked event of one projection."""

    projection: str
    position: int
    event_id: str
    stream_id: str
    event_type: str
    error: str
    parked_at: datetime


async def park(db: ReadDatabase, projection: str, position: int | None = None) -> DeadLetter:
    """Park the event at ``position`` (default: where ``projection`` is failing now)."""
    checkpoint = await load(db, projection)
    if position is None:
        if checkpoint.error_position is None:
            raise NotFoundError("failing event of projection", projection, "it is not failing")
        position = checkpoint.error_position
    rows = await db.query(
        sql_for(
            db.dialect,
            "SELECT event_id, stream_id, event_type FROM eskit_events WHERE position = ?",
        ),
        (position,),
    )
    if not rows:
        raise NotFoundError("event at position", str(position))
    event_id, stream_id, event_type = rows[0]
    error = checkpoint.error if checkpoint.error_position == position else None
    letter = DeadLetter(
        projection,
        position,
        str(event_id),
        stream_id,
        event_type,
        error or "parked by an operator",
        datetime.now(UTC),
    )

    async def work(session: Session) -> None:
        parked_at: Any = letter.parked_at
        if session.dialect == "sqlite":
            parked_at = parked_at.isoformat(timespec="microseconds")
        await session.execute(
            sql_for(
                session.dialect,
                "INSERT INTO eskit_dead_letters (projection, position, event_id, stream_id, "
                "event_type, error, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (projection, position) DO NOTHING",
            ),
            (projection, position, letter.event_id, stream_id, event_type, letter.error, parked_at),
        )

    await db.transaction(work)
    return letter


async def unpark(db: ReadDatabase, projection: str, position: int) -> bool:
    """Forget a parked event (a rebuild will then apply it again); False if it was not parked."""

    async def work(session: Session) -> int:
        return await session.execute(
            sql_for(
                session.dialect,
                "DELETE FROM eskit_dead_letters WHERE projection = ? AND position = ?",
            ),
            (projection, position),
        )

    return bool(await db.transaction(work))


async def parked_positions(db: ReadDatabase, projection: str) -> set[int]:
    """Positions of the events parked for ``projection``."""
    rows = await db.query(
        sql_for(db.dialect, "SELECT position FROM eskit_dead_letters WHERE projection = ?"),
        (projection,),
    )
    return {int(row[0]) for row in rows}


async def dead_letters(db: ReadDatabase, projection: str | None = None) -> list[DeadLetter]:
    """Parked events, of one projection or all, in position order."""
    sql = "SELECT projection, position, event_id, stream_id, event_type, error, parked_at FROM eskit_dead_letters"
    params: tuple[Any, ...] = ()
    if projection is not None:
        sql += " WHERE projection = ?"
        params = (projection,)
    rows = await db.query(sql_for(db.dialect, sql + " ORDER BY projection, position"), params)
    return [
        DeadLetter(
            p,
            int(pos),
            str(eid),
            sid,
            et,
            err,
            at if isinstance(at, datetime) else datetime.fromisoformat(at),
        )
        for p, pos, eid, sid, et, err, at in rows
    ]
