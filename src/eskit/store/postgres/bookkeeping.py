"""Checkpoints and parked events in PostgreSQL (see ``eskit.store.bookkeeping``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eskit.errors import CheckpointMovedError
from eskit.store.bookkeeping import CheckpointRow, DeadLetter
from eskit.store.postgres import sql
from eskit.store.postgres.rows import Executor

__all__ = ["PostgresCheckpoints", "PostgresDeadLetters", "PostgresInbox"]


def _checkpoint(row: tuple[Any, ...]) -> CheckpointRow:
    name, position, updated, error, error_position, count, error_at = row
    return CheckpointRow(name, int(position), updated, error, error_position, int(count), error_at)


class PostgresCheckpoints:
    """See ``eskit.store.bookkeeping.CheckpointSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def get(self, name: str) -> CheckpointRow:
        """See CheckpointReader.get."""
        rows = await self._run.fetch(sql.GET_CHECKPOINT, (name,))
        return _checkpoint(rows[0]) if rows else CheckpointRow(name, 0)

    async def all(self) -> dict[str, CheckpointRow]:
        """See CheckpointReader.all."""
        return {row[0]: _checkpoint(row) for row in await self._run.fetch(sql.ALL_CHECKPOINTS)}

    async def hold(self, name: str) -> int:
        """See CheckpointSession.hold: the row is locked (FOR UPDATE) until the end."""
        rows = await self._run.fetch(sql.HOLD_CHECKPOINT, (name,))
        return int(rows[0][0]) if rows else 0

    async def advance(self, name: str, *, expected: int, to: int) -> None:
        """See CheckpointSession.advance."""
        if await self._run.execute(sql.ADVANCE_CHECKPOINT, (to, name, expected)):
            return
        if expected == 0 and await self._run.execute(sql.CREATE_CHECKPOINT, (name, to)):
            return
        raise CheckpointMovedError(name, expected)

    async def reset(self, name: str, to: int = 0) -> None:
        """See CheckpointSession.reset."""
        await self._run.execute(sql.RESET_CHECKPOINT, (name, to))

    async def delete(self, name: str) -> None:
        """See CheckpointSession.delete."""
        await self._run.execute(sql.DELETE_CHECKPOINT, (name,))

    async def record_error(self, name: str, position: int, error: str) -> None:
        """See CheckpointSession.record_error."""
        await self._run.execute(sql.RECORD_ERROR, (name, error[:4000], position))


class PostgresDeadLetters:
    """See ``eskit.store.bookkeeping.DeadLetterSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def all(self, projection: str | None = None) -> list[DeadLetter]:
        """See DeadLetterReader.all."""
        statement, params = sql.ALL_DEAD_LETTERS, None
        if projection is not None:
            statement, params = statement + " WHERE projection = %s", (projection,)
        rows = await self._run.fetch(statement + sql.ORDER_DEAD_LETTERS, params)
        return [
            DeadLetter(p, int(pos), str(eid), sid, et, err, at)
            for p, pos, eid, sid, et, err, at in rows
        ]

    async def positions(self, projection: str) -> set[int]:
        """See DeadLetterReader.positions."""
        rows = await self._run.fetch(sql.PARKED_POSITIONS, (projection,))
        return {int(row[0]) for row in rows}

    async def park(self, letter: DeadLetter) -> None:
        """See DeadLetterSession.park."""
        await self._run.execute(
            sql.PARK,
            (
                letter.projection,
                letter.position,
                letter.event_id,
                letter.stream_id,
                letter.event_type,
                letter.error,
                letter.parked_at,
            ),
        )

    async def unpark(self, projection: str, position: int) -> bool:
        """See DeadLetterSession.unpark."""
        return bool(await self._run.execute(sql.UNPARK, (projection, position)))


class PostgresInbox:
    """See ``eskit.store.bookkeeping.InboxReader``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def seen(self, consumer: str, message_ids: Sequence[str]) -> set[str]:
        """See InboxReader.seen: one statement for the whole batch."""
        if not message_ids:
            return set()
        rows = await self._run.fetch(sql.SEEN_MESSAGES, (consumer, list(message_ids)))
        return {row[0] for row in rows}
