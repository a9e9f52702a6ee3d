"""Browsing a JetStream store newest first (the operator console's questions).

JetStream reads forward only, so a page newest first reads a window of sequences just
before where it starts, forward, and widens the window until the page is full or the
stream's start is reached. A page costs about the same wherever it lies in the log.
Counting streams by type reads the server's per-subject counts of first events, one entry
per stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg

from eskit.errors import StoreUnavailableError
from eskit.store.browsing import StreamTypeCount
from eskit.store.jetstream.direct import DirectReader
from eskit.store.jetstream.records import stored_event
from eskit.store.jetstream.subjects import StoreNames
from eskit.store.records import StoredEvent, StreamInfo

__all__ = ["JetStreamBrowser"]

_SUBJECTS_PAGE = 100_000  # the server's page of per-subject counts


class JetStreamBrowser:
    """:class:`~eskit.store.browsing.LogBrowser` over one store's JetStream stream."""

    def __init__(
        self,
        client: Client,
        names: StoreNames,
        direct: DirectReader,
        *,
        head: Callable[[], Awaitable[int]],
        stream_info: Callable[[Msg], Awaitable[StreamInfo]],
        timeout_s: float,
    ) -> None:
        self._client = client
        self._names = names
        self._direct = direct
        self._head = head
        self._stream_info = stream_info
        self._timeout_s = timeout_s

    async def stream_types(self) -> list[StreamTypeCount]:
        """See LogBrowser.stream_types."""
        counts: dict[str, int] = {}
        for subject in await self._subjects(self._names.firsts()):
            place = self._names.parse_event_subject(subject)
            if place is not None:
                counts[place[0]] = counts.get(place[0], 0) + 1
        return [StreamTypeCount(t, n) for t, n in sorted(counts.items())]

    async def latest_streams(
        self, *, stream_type: str | None = None, before: int | None = None, limit: int = 50
    ) -> list[StreamInfo]:
        """See LogBrowser.latest_streams."""
        end = await self._head() if before is None else before - 1
        firsts = await self._newest(self._names.firsts(stream_type), end, limit)
        return [await self._stream_info(f) for f in firsts]

    async def latest_events(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """See LogBrowser.latest_events."""
        end = await self._head() if before is None else before - 1
        records = await self._newest(self._names.events, end, limit)
        return [stored_event(r, self._names) for r in records]

    async def _newest(self, subject: str, end: int, limit: int) -> list[Msg]:
        """Up to ``limit`` records on ``subject`` at or before ``end``, newest first."""
        found: list[Msg] = []
        width = max(limit * 4, 64)
        while end >= 1 and len(found) < limit:
            start = max(1, end - width + 1)
            found.extend(reversed(await self._direct.window(subject, start, end)))
            end, width = start - 1, width * 4
        return found[:limit]

    async def _subjects(self, subject_filter: str) -> list[str]:
        subjects: list[str] = []
        while True:
            request = {"subjects_filter": subject_filter, "offset": len(subjects)}
            reply = await self._client.request(
                f"$JS.API.STREAM.INFO.{self._names.stream}",
                orjson.dumps(request),
                timeout=self._timeout_s,
            )
            answer = orjson.loads(reply.data)
            if "error" in answer:
                raise StoreUnavailableError(f"JetStream refused stream info: {answer['error']}")
            page = list((answer.get("state", {}).get("subjects") or {}).keys())
            subjects.extend(page)
            if len(page) < _SUBJECTS_PAGE or len(subjects) >= answer.get("total", 0):
                return subjects
