"""How the console's templates show values: JSON, times, counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["FILTERS", "compact_json", "pretty_json", "utc_time"]


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


FILTERS: dict[str, Callable[..., str]] = {
    "pretty": pretty_json,
    "compact": compact_json,
    "utc": utc_time,
    "count": count,
}
"""The filters the templates use."""
