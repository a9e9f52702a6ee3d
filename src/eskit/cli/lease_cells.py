"""A lease as the cells of a status table (``eskit projections status``, ``relay status``)."""

from __future__ import annotations

from datetime import datetime

from eskit.store.leases import LeaseInfo

__all__ = ["LEASE_COLUMNS", "lease_cells"]

LEASE_COLUMNS = ("lease", "held by", "since", "last beat")

_STATES = {
    "running_here": "running here",
    "standby": "standby",
    "running_elsewhere": "running",
    "expired": "EXPIRED (holder gone?)",
    "not_running": "no lease (not running)",
}


def lease_cells(lease: LeaseInfo | None) -> tuple[str, str, str, str]:
    """The lease's state, its holder (host and pid), since when and its last heartbeat."""
    if lease is None:
        return ("", "", "", "")
    held_by = f"{lease.host} pid {lease.pid}" if lease.host is not None else ""
    return (_STATES[lease.state], held_by, _time(lease.since), _time(lease.beat_at))


def _time(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")
