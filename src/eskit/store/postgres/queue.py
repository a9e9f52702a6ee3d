"""The command queue in PostgreSQL (see ``eskit.store.queue``).

Claimers lock the due rows they choose with ``FOR UPDATE SKIP LOCKED``: each takes rows no
other holds, without waiting, so many workers drain one queue side by side.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from eskit.store.encoding import json_dumps
from eskit.store.postgres import sql
from eskit.store.postgres.rows import Executor
from eskit.store.queue import FINAL_STATUSES, QueuedCommand, QueueDepth, QueueStatus

__all__ = ["PostgresQueue"]


def _command(row: tuple[Any, ...]) -> QueuedCommand:
    command_id, command_type, payload, available_at, enqueued_at, metadata, *rest = row
    key, status, attempts, updated_at, lease_until, outcome, error = rest
    return QueuedCommand(
        command_id,
        command_type,
        payload,
        available_at,
        enqueued_at,
        metadata,
        key,
        status,
        int(attempts),
        updated_at,
        lease_until,
        outcome,
        error,
    )


def _params(command: QueuedCommand) -> tuple[Any, ...]:
    return (
        command.id,
        command.command_type,
        command.payload,
        command.available_at,
        command.enqueued_at,
        json_dumps(command.metadata),
        command.key,
        command.status,
        command.attempts,
        command.updated_at or command.enqueued_at,
        command.lease_until,
        None if command.outcome is None else json_dumps(command.outcome),
        command.error,
    )


class PostgresQueue:
    """See ``eskit.store.queue.QueueSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def get(self, command_id: uuid.UUID) -> QueuedCommand | None:
        """See QueueReader.get."""
        rows = await self._run.fetch(sql.GET_QUEUED_COMMAND, (command_id,))
        return _command(rows[0]) if rows else None

    async def depth(self, now: datetime) -> QueueDepth:
        """See QueueReader.depth."""
        rows = await self._run.fetch(sql.QUEUE_DEPTH, {"now": now})
        ready, running, scheduled, oldest = rows[0]
        return QueueDepth(int(ready), int(running), int(scheduled), oldest)

    async def enqueue(self, commands: Sequence[QueuedCommand]) -> int:
        """See QueueSession.enqueue: one pipelined statement per command."""
        return await self._run.executemany(sql.ENQUEUE_COMMAND, [_params(c) for c in commands])

    async def claim(self, *, now: datetime, limit: int, lease_s: float) -> list[QueuedCommand]:
        """See QueueSession.claim: one statement, skipping rows other claimers hold."""
        if limit < 1:
            return []
        until = now + timedelta(seconds=lease_s)
        rows = await self._run.fetch(
            sql.CLAIM_COMMANDS, {"now": now, "until": until, "limit": limit}
        )
        claimed = [_command(row) for row in rows]
        return sorted(claimed, key=lambda c: (c.available_at, c.enqueued_at, c.id))

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
        encoded = None if outcome is None else json_dumps(outcome)
        params = (status, encoded, now, command_id)
        return bool(await self._run.execute(sql.FINISH_COMMAND, params))

    async def retry(
        self, command_id: uuid.UUID, *, available_at: datetime, error: str, now: datetime
    ) -> bool:
        """See QueueSession.retry."""
        params = (available_at, error, now, command_id)
        return bool(await self._run.execute(sql.RETRY_COMMAND, params))

    async def cancel(self, key: str) -> bool:
        """See QueueSession.cancel."""
        return bool(await self._run.execute(sql.CANCEL_COMMAND, (key,)))

    # last: below it, `list` in the class body would name this method, not the builtin
    async def list(
        self, *, status: QueueStatus | None = None, limit: int = 100
    ) -> list[QueuedCommand]:
        """See QueueReader.list."""
        statement, params = sql.queue_query(status, limit)
        return [_command(row) for row in await self._run.fetch(statement, params)]
