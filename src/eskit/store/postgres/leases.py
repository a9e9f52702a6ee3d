"""Leases in PostgreSQL (see ``eskit.store.leases``): times are the database's clock."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from eskit.store.leases import Lease, LeaseHolder
from eskit.store.postgres import sql
from eskit.store.postgres.rows import Executor

__all__ = ["PostgresLeases"]


def _lease(row: tuple[Any, ...]) -> Lease:
    name, holder, host, pid, acquired_at, beat_at, expires_at, expired = row
    return Lease(name, holder, host, int(pid), acquired_at, beat_at, expires_at, bool(expired))


class PostgresLeases:
    """See ``eskit.store.leases.LeaseSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def acquire(self, name: str, holder: LeaseHolder, *, ttl_s: float) -> Lease:
        """See LeaseSession.acquire: one statement; a second reads the other holder's row
        when it was not taken."""
        if not (ttl_s > 0 and math.isfinite(ttl_s)):
            raise ValueError(f"a lease lasts a positive number of seconds, not {ttl_s!r}")
        params = (name, holder.id, holder.host, holder.pid, float(ttl_s))
        while True:
            rows = await self._run.fetch(sql.ACQUIRE_LEASE, params)
            if not rows:  # held by another: read its row
                rows = await self._run.fetch(sql.LEASES, ([name], [name]))
            if rows:
                return _lease(rows[0])
            # released between the two statements: the name is free now, try again

    async def release(self, name: str, holder_id: str) -> bool:
        """See LeaseSession.release."""
        return bool(await self._run.execute(sql.RELEASE_LEASE, (name, holder_id)))

    # last: below it, `list` in the class body would name this method, not the builtin
    async def list(self, names: Collection[str] | None = None) -> list[Lease]:
        """See LeaseReader.list."""
        wanted = None if names is None else list(names)
        return [_lease(row) for row in await self._run.fetch(sql.LEASES, (wanted, wanted))]
