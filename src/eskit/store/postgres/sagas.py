"""Saga instances in PostgreSQL (see ``eskit.store.sagas``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eskit.errors import SagaConflictError
from eskit.store.encoding import json_dumps
from eskit.store.postgres import sql
from eskit.store.postgres.rows import Executor
from eskit.store.sagas import SagaRecord, SagaStatus

__all__ = ["PostgresSagas"]


def _saga(row: tuple[Any, ...]) -> SagaRecord:
    saga, correlation_id, status, step, version, started_at, updated_at, state, reason = row
    return SagaRecord(
        saga, correlation_id, status, step, int(version), started_at, updated_at, state, reason
    )


def _columns(records: Sequence[SagaRecord]) -> tuple[list[Any], ...]:
    """``records`` as one list per column (``sql.SAGA_COLUMNS``), for ``unnest``."""
    return (
        [r.saga for r in records],
        [r.correlation_id for r in records],
        [r.status for r in records],
        [r.step for r in records],
        [r.version for r in records],
        [r.started_at for r in records],
        [r.updated_at for r in records],
        [json_dumps(r.state) for r in records],
        [r.reason for r in records],
    )


class PostgresSagas:
    """See ``eskit.store.sagas.SagaSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def get(self, saga: str, correlation_ids: Sequence[str]) -> dict[str, SagaRecord]:
        """See SagaReader.get."""
        if not correlation_ids:
            return {}
        rows = await self._run.fetch(sql.GET_SAGAS, (saga, list(correlation_ids)))
        return {row[1]: _saga(row) for row in rows}

    async def counts(self) -> dict[tuple[str, SagaStatus], int]:
        """See SagaReader.counts."""
        rows = await self._run.fetch(sql.SAGA_COUNTS)
        return {(saga, status): int(count) for saga, status, count in rows}

    async def put(self, records: Sequence[SagaRecord]) -> None:
        """See SagaSession.put: one statement for the new instances, one for the others;
        a conflict raises (naming the first saga's instances that conflicted) for the
        caller's transaction to roll back."""
        written: set[tuple[str, str]] = set()
        inserts = [r for r in records if r.version == 1]
        updates = [r for r in records if r.version != 1]
        for statement, batch in ((sql.INSERT_SAGAS, inserts), (sql.UPDATE_SAGAS, updates)):
            if batch:
                rows = await self._run.fetch(statement, _columns(batch))
                written.update((saga, correlation_id) for saga, correlation_id in rows)
        conflicts: dict[str, list[str]] = {}
        for record in records:
            if (record.saga, record.correlation_id) not in written:
                conflicts.setdefault(record.saga, []).append(record.correlation_id)
        if conflicts:
            raise SagaConflictError(*next(iter(conflicts.items())))

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
        statement, params = sql.saga_query(saga, status, updated_before, limit)
        return [_saga(row) for row in await self._run.fetch(statement, params)]
