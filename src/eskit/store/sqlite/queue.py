"""The command queue in the SQLite file (see ``eskit.store.queue``).

Claims go through the single writer: a unit of work holds it, so no other claimer can run
between reading the due commands and marking them claimed.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from eskit.store.queue import FINAL_STATUSES, QueuedCommand, QueueDepth, QueueStatus
from eskit.store.sqlite import sql
from eskit.store.sqlite.rows import Runner
from eskit.store.sqlite.values import (
    optional_json,
    queued_command_from_row,
    queued_command_params,
    timestamp,
)

__all__ = ["SQLiteQueue"]


class SQLiteQueue:
    """See ``eskit.store.queue.QueueSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def get(self, command_id: uuid.UUID) -> QueuedCommand | None:
        """See QueueReader.get."""
        params = (str(command_id),)
        row = await self._run(lambda conn: conn.execute(sql.GET_QUEUED_COMMAND, params).fetchone())
        return None if row is None else queued_command_from_row(row)

    async def depth(self, now: datetime) -> QueueDepth:
        """See QueueReader.depth."""
        at = timestamp(now)
        row = await self._run(lambda conn: conn.execute(sql.QUEUE_DEPTH, (at, at, at)).fetchone())
        ready, running, scheduled, oldest = row
        return QueueDepth(
            int(ready),
            int(running),
            int(scheduled),
            None if oldest is None else datetime.fromisoformat(oldest),
        )

    async def enqueue(self, commands: Sequence[QueuedCommand]) -> int:
        """See QueueSession.enqueue."""
        rows = [queued_command_params(command) for command in commands]
        return await self._run(lambda conn: _enqueue(conn, rows))

    async def claim(self, *, now: datetime, limit: int, lease_s: float) -> list[QueuedCommand]:
        """See QueueSession.claim."""
        if limit < 1:
            return []
        return await self._run(lambda conn: _claim(conn, now, limit, lease_s))

    async def finish(
        self,
        command_id: uuid.UUID,
        *,
        status: QueueStatus,
        outcome: dict[str, Any] | None,
        now: datetime,
    ) -> bool:
        """See QueueSession.finish."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"a command finishes as one of {FINAL_STATUSES}, not {status!r}")
        params = (status, optional_json(outcome), timestamp(now), str(command_id))
        changed = await self._run(lambda conn: conn.execute(sql.FINISH_COMMAND, params).rowcount)
        return bool(changed)

    async def retry(
        self, command_id: uuid.UUID, *, available_at: datetime, error: str, now: datetime
    ) -> bool:
        """See QueueSession.retry."""
        params = (timestamp(available_at), error, timestamp(now), str(command_id))
        changed = await self._run(lambda conn: conn.execute(sql.RETRY_COMMAND, params).rowcount)
        return bool(changed)

    async def cancel(self, key: str) -> bool:
        """See QueueSession.cancel."""
        changed = await self._run(lambda conn: conn.execute(sql.CANCEL_COMMAND, (key,)).rowcount)
        return bool(changed)

    # last: below it, `list` in the class body would name this method, not the builtin
    async def list(
        self, *, status: QueueStatus | None = None, limit: int = 100
    ) -> list[QueuedCommand]:
        """See QueueReader.list."""
        statement, params = sql.queue_query(status, limit)
        rows = await self._run(lambda conn: conn.execute(statement, params).fetchall())
        return [queued_command_from_row(row) for row in rows]


def _enqueue(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    execute = conn.execute
    return sum(execute(sql.ENQUEUE_COMMAND, row).rowcount for row in rows)


def _claim(
    conn: sqlite3.Connection, now: datetime, limit: int, lease_s: float
) -> list[QueuedCommand]:
    at = timestamp(now)
    until = now + timedelta(seconds=lease_s)
    due = [
        queued_command_from_row(row)
        for row in conn.execute(sql.DUE_COMMANDS, (at, at, limit)).fetchall()
    ]
    lease = timestamp(until)
    conn.executemany(sql.CLAIM_COMMAND, [(lease, at, str(command.id)) for command in due])
    return [
        dataclasses.replace(
            command,
            status="running",
            attempts=command.attempts + 1,
            lease_until=datetime.fromisoformat(lease),
            updated_at=datetime.fromisoformat(at),
        )
        for command in due
    ]
