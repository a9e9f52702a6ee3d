"""Browsing the log newest first: what an operator's console reads.

The event store port reads forward, as subscriptions do; an operator looks at what happened
last. :class:`LogBrowser` answers those questions with keyset pages (never an ``OFFSET``
that grows with the log), each one an index range scan on every adapter that implements
it, so a page costs the same on a store of a thousand events as on one of millions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from eskit.store.records import StoredEvent, StreamInfo

__all__ = ["BrowsingThrough", "LogBrowser", "StreamTypeCount"]


@dataclass(frozen=True, slots=True)
class StreamTypeCount:
    """A stream type and how many streams it has."""

    stream_type: str
    streams: int


@runtime_checkable
class LogBrowser(Protocol):
    """The log and its streams, newest first, in keyset pages.

    Like the global readers, it never shows an event a reader of the log may not see yet
    (beyond the read horizon).
    """

    async def stream_types(self) -> list[StreamTypeCount]:
        """Every stream type with its number of streams, by type name."""
        ...

    async def latest_streams(
        self, *, stream_type: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[StreamInfo]:
        """Streams (of ``stream_type``, if given) newest first: those whose first event
        lies before position ``before`` (pass the last one's ``first_position`` for the
        next page)."""
        ...

    async def latest_events(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """The last ``limit`` events of the log (before position ``before``, if given),
        newest first."""
        ...


class BrowsingThrough:
    """:class:`LogBrowser` answered by another object, ``self._browser``: for a store whose
    browsing lives in a helper of its own, or a wrapper around a store that browses."""

    _browser: LogBrowser

    async def stream_types(self) -> list[StreamTypeCount]:
        """See LogBrowser.stream_types."""
        return await self._browser.stream_types()

    async def latest_streams(
        self, *, stream_type: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[StreamInfo]:
        """See LogBrowser.latest_streams."""
        return await self._browser.latest_streams(
            stream_type=stream_type, before=before, limit=limit
        )

    async def latest_events(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """See LogBrowser.latest_events."""
        return await self._browser.latest_events(before=before, limit=limit)
