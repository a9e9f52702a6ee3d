"""Leases: which process works on a named loop (a projection, the relay, a consumer) now.

One row per name says who holds it: the holder's id (unique per runner, so per process
start), host and pid, since when (``acquired_at``), its last heartbeat (``beat_at``) and
when it ends (``expires_at``) unless renewed. Taking a lease is a compare-and-set: it is
taken if it is free, expired or held by the same holder already (then it is renewed), and
of many acquirers at once exactly one wins. Releasing removes the row, so a clean stop
hands the name over at once; a holder that dies leaves its row to expire.

Times are the database's clock on PostgreSQL, so hosts whose clocks disagree still agree on
when a lease ends; on SQLite (one machine) the process clock.

:mod:`eskit.store.leasing` runs the loops that hold leases; :class:`LeaseInfo` is what
status reports show of one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

__all__ = [
    "Lease",
    "LeaseHolder",
    "LeaseInfo",
    "LeaseReader",
    "LeaseSession",
    "LeaseState",
    "lease_info",
]


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who asks for leases: ``id`` unique per runner, and where it runs."""

    id: str
    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease row as stored.

    ``expired`` is whether ``expires_at`` had passed when the row was read, by the
    database's clock (on PostgreSQL), so a reader on a host with another clock still judges
    it right.
    """

    name: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime
    beat_at: datetime
    expires_at: datetime
    expired: bool = False

    def held_by(self, holder_id: str) -> bool:
        """Whether ``holder_id`` holds this lease (and it had not expired when read)."""
        return self.holder == holder_id and not self.expired


class LeaseReader(Protocol):
    """Leases as committed (or as the session left them)."""

    async def list(self, names: Collection[str] | None = None) -> list[Lease]:
        """The leases on ``names`` (every lease when None), by name; expired ones included
        (``expired`` says so), released ones gone."""
        ...


class LeaseSession(LeaseReader, Protocol):
    """Leases inside a transaction. Keep that transaction short: it holds the lease row."""

    async def acquire(self, name: str, holder: LeaseHolder, *, ttl_s: float) -> Lease:
        """Take the lease on ``name`` for ``ttl_s`` if it is free, expired, or held by
        ``holder`` already (then it is renewed: ``acquired_at`` stays, ``beat_at`` and
        ``expires_at`` move).

        Returns the lease as it stands after the attempt: ``holder``'s if it was taken or
        renewed, else the other holder's, unchanged. Of several acquirers at once exactly
        one gets it. Raises ValueError if ``ttl_s`` is not positive.
        """
        ...

    async def release(self, name: str, holder_id: str) -> bool:
        """Remove the lease on ``name`` if ``holder_id`` holds it (expired or not); whether
        it was removed."""
        ...


LeaseState = Literal["running_here", "standby", "running_elsewhere", "expired", "not_running"]
"""What a status report says of a lease: this process holds it and works (``running_here``);
this process waits to take it over (``standby``); another process holds it
(``running_elsewhere``); the last holder stopped renewing it and nobody took it over yet
(``expired``: it died, or is cut off from the database); nobody holds it (``not_running``)."""


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """The lease on a projection, relay or consumer, as status reports show it.

    ``holder``, ``host`` and ``pid`` name the process holding it, ``since`` when it took it,
    ``beat_at`` its last heartbeat and ``expires_at`` when it ends unless renewed; all None
    when nobody holds it.
    """

    state: LeaseState
    holder: str | None = None
    host: str | None = None
    pid: int | None = None
    since: datetime | None = None
    beat_at: datetime | None = None
    expires_at: datetime | None = None


def lease_info(lease: Lease | None, *, here: bool | None = None) -> LeaseInfo:
    """What a status report shows of ``lease`` (the stored row; None: there is none).

    ``here`` is None when this process does not run the loop; else whether it holds the
    lease now (True: ``running_here``; False: it waits, ``standby``).
    """
    if here:
        state: LeaseState = "running_here"
    elif here is not None:
        state = "standby"
    elif lease is None:
        state = "not_running"
    else:
        state = "expired" if lease.expired else "running_elsewhere"
    if lease is None:
        return LeaseInfo(state)
    return LeaseInfo(
        state,
        holder=lease.holder,
        host=lease.host,
        pid=lease.pid,
        since=lease.acquired_at,
        beat_at=lease.beat_at,
        expires_at=lease.expires_at,
    )
