"""Saga instances in the SQLite file (see ``eskit.store.sagas``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from eskit.errors import SagaConflictError
from eskit.store.sagas import SagaRecord, SagaStatus
from eskit.store.sqlite import sql
from eskit.store.sqlite.rows import Runner
from eskit.store.sqlite.values import saga_from_row, saga_params, timestamp

__all__ = ["SQLiteSagas"]


class SQLiteSagas:
    """See ``eskit.store.sagas.SagaSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def get(self, saga: str, correlation_ids: Sequence[str]) -> dict[str, SagaRecord]:
        """See SagaReader.get."""

        def read(conn: sqlite3.Connection) -> dict[str, SagaRecord]:
            rows = (conn.execute(sql.GET_SAGA, (saga, c)).fetchone() for c in correlation_ids)
            return {row[1]: saga_from_row(row) for row in rows if row is not None}

        return await self._run(read)

    async def counts(self) -> dict[tuple[str, SagaStatus], int]:
        """See SagaReader.counts."""
        rows = await self._run(lambda conn: conn.execute(sql.SAGA_COUNTS).fetchall())
        return {(saga, status): int(count) for saga, status, count in rows}

    async def put(self, records: Sequence[SagaRecord]) -> None:
        """See SagaSession.put: every record is tried, then a conflict raises (naming the
        first saga's instances that conflicted) for the caller's transaction to roll back."""
        await self._run(lambda conn: _put(conn, records))

    # last: below it, `list` in the class body would name this method, not the builtin
    async def list(
        self,
        *,
        saga: str | None = None,
        status: SagaStatus | None = None,
        updated_before: datetime | None = None,
        limit: int = 100,
    ) -> list[SagaRecord]:
        """See SagaReader.list."""
        before = None if updated_before is None else timestamp(updated_before)
        statement, params = sql.saga_query(saga, status, before, limit)
        rows = await self._run(lambda conn: conn.execute(statement, params).fetchall())
        return [saga_from_row(row) for row in rows]


def _put(conn: sqlite3.Connection, records: Sequence[SagaRecord]) -> None:
    execute = conn.execute
    conflicts: dict[str, list[str]] = {}
    for record in records:
        params = saga_params(record)
        if record.version == 1:
            written = execute(sql.INSERT_SAGA, params).rowcount
        else:
            saga, correlation_id, *changes = params
            key = (saga, correlation_id, record.version - 1)
            written = execute(sql.UPDATE_SAGA, (*changes, *key)).rowcount
        if not written:
            conflicts.setdefault(record.saga, []).append(record.correlation_id)
    if conflicts:
        raise SagaConflictError(*next(iter(conflicts.items())))
