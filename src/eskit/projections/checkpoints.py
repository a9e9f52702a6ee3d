"""Checkpoints: where each subscription stands, and the last error it met.

A checkpoint moves only by compare-and-set inside the transaction that wrote the read model
(:func:`advance`): if two runners of one projection ever overlap, or a rebuild swapped the
tables in, the loser's batch rolls back whole instead of being applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eskit.errors import CheckpointMovedError
from eskit.projections.database import ReadDatabase
from eskit.projections.session import Dialect, Session

__all__ = ["CheckpointRow", "advance", "load", "load_all", "record_error", "reset", "sql_for"]


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A checkpoint as stored."""

    name: str
    position: int
    updated_at: datetime | None
    error: str | None
    error_position: int | None
    error_count: int
    error_at: datetime | None


def sql_for(dialect: Dialect, sql: str) -> str:
    """eskit's own SQL is written with ``?``; PostgreSQL wants ``%s``."""
    return sql if dialect == "sqlite" else sql.replace("?", "%s")


def _now(dialect: Dialect) -> Any:
    moment = datetime.now(UTC)
    return moment.isoformat(timespec="microseconds") if dialect == "sqlite" else moment


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


_COLUMNS = "name, position, updated_at, error, error_position, error_count, error_at"


def _row(row: tuple[Any, ...]) -> CheckpointRow:
    name, position, updated, error, error_position, count, error_at = row
    return CheckpointRow(
        name, int(position), _time(updated), error, error_position, int(count), _time(error_at)
    )


async def load(db: ReadDatabase, name: str) -> CheckpointRow:
    """The checkpoint of ``name`` (position 0 when it never ran)."""
    rows = await db.query(
        sql_for(db.dialect, f"SELECT {_COLUMNS} FROM eskit_checkpoints WHERE name = ?"), (name,)
    )
    return _row(rows[0]) if rows else CheckpointRow(name, 0, None, None, None, 0, None)


async def load_all(db: ReadDatabase) -> dict[str, CheckpointRow]:
    """Every stored checkpoint by name."""
    rows = await db.query(f"SELECT {_COLUMNS} FROM eskit_checkpoints ORDER BY name")
    return {row[0]: _row(row) for row in rows}


async def advance(session: Session, name: str, expected: int, position: int) -> None:
    """Move ``name`` from ``expected`` to ``position`` in the session's transaction.

    Clears the recorded error. Raises CheckpointMovedError when the checkpoint is not at
    ``expected`` (the caller's transaction must then roll back).
    """
    now = _now(session.dialect)
    changed = await session.execute(
        sql_for(
            session.dialect,
            "UPDATE eskit_checkpoints SET position = ?, updated_at = ?, error = NULL, "
            "error_position = NULL, error_count = 0, error_at = NULL "
            "WHERE name = ? AND position = ?",
        ),
        (position, now, name, expected),
    )
    if changed:
        return
    if expected == 0:
        created = await session.execute(
            sql_for(
                session.dialect,
                "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
            ),
            (name, position, now),
        )
        if created:
            return
    raise CheckpointMovedError(name, expected)


async def reset(session: Session, name: str, position: int = 0) -> None:
    """Set ``name`` to ``position`` whatever it was (a rebuild's swap, an operator's reset)."""
    await session.execute(
        sql_for(
            session.dialect,
            "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "updated_at = excluded.updated_at, error = NULL, error_position = NULL, "
            "error_count = 0, error_at = NULL",
        ),
        (name, position, _now(session.dialect)),
    )


async def record_error(db: ReadDatabase, name: str, position: int, error: str) -> None:
    """Remember that ``name`` failed at ``position`` (its own transaction: the batch rolled back)."""

    async def work(session: Session) -> None:
        now = _now(session.dialect)
        await session.execute(
            sql_for(
                session.dialect,
                "INSERT INTO eskit_checkpoints (name, position, updated_at, error, "
                "error_position, error_count, error_at) VALUES (?, 0, ?, ?, ?, 1, ?) "
                "ON CONFLICT (name) DO UPDATE SET error = excluded.error, "
                "error_position = excluded.error_position, error_at = excluded.error_at, "
                "error_count = eskit_checkpoints.error_count + 1",
            ),
            (name, now, error[:4000], position, now),
        )

    await db.transaction(work)
