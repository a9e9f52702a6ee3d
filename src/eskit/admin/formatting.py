"""How the console's templates show values: JSON, times, counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from eskit.store.leases import LeaseInfo

__all__ = ["FILTERS", "compact_json", "held_by", "pretty_json", "utc_time"]


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON with sorted keys."""
    return orjson.dumps(
        value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str
    ).decode()


def compact_json(value: Any, limit: int = 160) -> str:
    """``value`` as one line of JSON, cut at ``limit`` characters."""
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc_time(moment: datetime | None) -> str:
    """``moment`` in UTC to the millisecond, or a dash."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def count(value: int | float | None) -> str:
    """A number with thousands separators, or a dash."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if isinstance(value, int) else f"{value:,.1f}"


def held_by(lease: LeaseInfo | None) -> str:
    """Who holds a lease: the process (host, pid), since when, its last heartbeat and the
    lease's state (``running here``, ``standby``, ``expired``…); a dash without one."""
    if lease is None:
        return "—"
    state = lease.state.replace("_", " ")
    if lease.host is None:
        return state
    since = f" since {_second(lease.since)}" if lease.since else ""
    beat = f", beat {_second(lease.beat_at)}" if lease.beat_at else ""
    return f"{lease.host} pid {lease.pid}{since}{beat} ({state})"


def _second(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


FILTERS: dict[str, Callable[..., str]] = {
    "held_by": held_by,
    "pretty": pretty_json,
    "compact": compact_json,
    "utc": utc_time,
    "count": count,
}
"""The filters the templates use."""
