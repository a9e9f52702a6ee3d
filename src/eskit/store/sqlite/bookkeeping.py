"""Checkpoints and parked events in the SQLite file (see ``eskit.store.bookkeeping``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from eskit.errors import CheckpointMovedError
from eskit.store.bookkeeping import CheckpointRow, DeadLetter
from eskit.store.sqlite import sql
from eskit.store.sqlite.rows import Runner
from eskit.store.sqlite.values import checkpoint_from_row, dead_letter_from_row, now, timestamp

__all__ = ["SQLiteCheckpoints", "SQLiteDeadLetters", "SQLiteInbox"]


class SQLiteCheckpoints:
    """See ``eskit.store.bookkeeping.CheckpointSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def get(self, name: str) -> CheckpointRow:
        """See CheckpointReader.get."""
        row = await self._run(lambda conn: conn.execute(sql.GET_CHECKPOINT, (name,)).fetchone())
        return checkpoint_from_row(row) if row else CheckpointRow(name, 0)

    async def all(self) -> dict[str, CheckpointRow]:
        """See CheckpointReader.all."""
        rows = await self._run(lambda conn: conn.execute(sql.ALL_CHECKPOINTS).fetchall())
        return {row[0]: checkpoint_from_row(row) for row in rows}

    async def hold(self, name: str) -> int:
        """See CheckpointSession.hold: the write transaction already excludes other writers."""
        return (await self.get(name)).position

    async def advance(self, name: str, *, expected: int, to: int) -> None:
        """See CheckpointSession.advance."""
        await self._run(lambda conn: _advance(conn, name, expected, to))

    async def reset(self, name: str, to: int = 0) -> None:
        """See CheckpointSession.reset."""
        await self._run(lambda conn: conn.execute(sql.RESET_CHECKPOINT, (name, to, now())))

    async def delete(self, name: str) -> None:
        """See CheckpointSession.delete."""
        await self._run(lambda conn: conn.execute(sql.DELETE_CHECKPOINT, (name,)))

    async def record_error(self, name: str, position: int, error: str) -> None:
        """See CheckpointSession.record_error."""
        at = now()
        params = (name, at, error[:4000], position, at)
        await self._run(lambda conn: conn.execute(sql.RECORD_ERROR, params))


def _advance(conn: sqlite3.Connection, name: str, expected: int, to: int) -> None:
    at = now()
    if conn.execute(sql.ADVANCE_CHECKPOINT, (to, at, name, expected)).rowcount:
        return
    if expected == 0 and conn.execute(sql.CREATE_CHECKPOINT, (name, to, at)).rowcount:
        return
    raise CheckpointMovedError(name, expected)


class SQLiteDeadLetters:
    """See ``eskit.store.bookkeeping.DeadLetterSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def all(self, projection: str | None = None) -> list[DeadLetter]:
        """See DeadLetterReader.all."""
        statement, params = sql.ALL_DEAD_LETTERS, list[str]()
        if projection is not None:
            statement, params = statement + " WHERE projection = ?", [projection]
        statement += sql.ORDER_DEAD_LETTERS
        rows = await self._run(lambda conn: conn.execute(statement, params).fetchall())
        return [dead_letter_from_row(row) for row in rows]

    async def positions(self, projection: str) -> set[int]:
        """See DeadLetterReader.positions."""
        rows = await self._run(
            lambda conn: conn.execute(sql.PARKED_POSITIONS, (projection,)).fetchall()
        )
        return {int(row[0]) for row in rows}

    async def park(self, letter: DeadLetter) -> None:
        """See DeadLetterSession.park."""
        params = (
            letter.projection,
            letter.position,
            letter.event_id,
            letter.stream_id,
            letter.event_type,
            letter.error,
            timestamp(letter.parked_at),
        )
        await self._run(lambda conn: conn.execute(sql.PARK, params))

    async def unpark(self, projection: str, position: int) -> bool:
        """See DeadLetterSession.unpark."""
        params = (projection, position)
        return bool(await self._run(lambda conn: conn.execute(sql.UNPARK, params).rowcount))


class SQLiteInbox:
    """See ``eskit.store.bookkeeping.InboxReader``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def seen(self, consumer: str, message_ids: Sequence[str]) -> set[str]:
        """See InboxReader.seen."""

        def read(conn: sqlite3.Connection) -> set[str]:
            execute = conn.execute
            return {
                message_id
                for message_id in message_ids
                if execute(sql.SEEN_MESSAGE, (consumer, message_id)).fetchone() is not None
            }

        return await self._run(read)
