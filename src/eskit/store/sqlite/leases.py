"""Leases in the SQLite file (see ``eskit.store.leases``).

Acquiring goes through the single writer, so no other acquirer runs between the check and
the write. Times are the process clock: one machine holds the file.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from eskit.store.leases import Lease, LeaseHolder
from eskit.store.sqlite import sql
from eskit.store.sqlite.rows import Runner
from eskit.store.sqlite.values import timestamp

__all__ = ["SQLiteLeases"]


def _lease(row: tuple[Any, ...]) -> Lease:
    name, holder, host, pid, acquired_at, beat_at, expires_at, expired = row
    return Lease(
        name,
        holder,
        host,
        int(pid),
        datetime.fromisoformat(acquired_at),
        datetime.fromisoformat(beat_at),
        datetime.fromisoformat(expires_at),
        bool(expired),
    )


class SQLiteLeases:
    """See ``eskit.store.leases.LeaseSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def acquire(self, name: str, holder: LeaseHolder, *, ttl_s: float) -> Lease:
        """See LeaseSession.acquire."""
        _check_ttl(ttl_s)
        moment = datetime.now(UTC)
        at, until = timestamp(moment), timestamp(moment + timedelta(seconds=ttl_s))
        params = (name, holder.id, holder.host, holder.pid, at, at, until)

        def acquire(conn: sqlite3.Connection) -> Lease:
            conn.execute(sql.ACQUIRE_LEASE, params)
            return _lease(conn.execute(sql.GET_LEASE, (at, name)).fetchone())

        return await self._run(acquire)

    async def release(self, name: str, holder_id: str) -> bool:
        """See LeaseSession.release."""
        params = (name, holder_id)
        return bool(await self._run(lambda conn: conn.execute(sql.RELEASE_LEASE, params).rowcount))

    # last: below it, `list` in the class body would name this method, not the builtin
    async def list(self, names: Collection[str] | None = None) -> list[Lease]:
        """See LeaseReader.list."""
        at = timestamp(datetime.now(UTC))
        rows = await self._run(lambda conn: conn.execute(sql.ALL_LEASES, (at,)).fetchall())
        wanted = None if names is None else set(names)
        return [_lease(row) for row in rows if wanted is None or row[0] in wanted]


def _check_ttl(ttl_s: float) -> None:
    if not (ttl_s > 0 and math.isfinite(ttl_s)):
        raise ValueError(f"a lease lasts a positive number of seconds, not {ttl_s!r}")
