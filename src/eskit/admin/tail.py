"""The live tail of the global log, as server-sent events.

It wakes on the store's commit signal, as the relay and the projections do: appends through
this process fire it at once, and a :class:`~eskit.store.commits.CommitListener` (PostgreSQL
``NOTIFY``, a watch of the SQLite file) fires it for other processes' commits. Polling is
only the fallback for a listener that cannot hear. A connection lasts ``lifetime_s`` and
ends at once when the server stops; the browser reconnects with the last position it got
(``Last-Event-ID``), so nothing is missed or shown twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

from eskit.store import EventStoreBackend, StoredEvent

__all__ = ["tail_events"]

Render = Callable[[Sequence[StoredEvent]], str]
"""Renders a batch of events (oldest first) as the HTML the page inserts."""


async def tail_events(
    store: EventStoreBackend,
    after: int,
    render: Render,
    closing: asyncio.Event,
    *,
    lifetime_s: float = 30.0,
    batch: int = 200,
    fallback_poll_s: float = 1.0,
) -> AsyncIterator[str]:
    """Server-sent events, each one batch of events after ``after`` (its ``id`` is the
    position of the batch's last event), until ``lifetime_s`` passes or ``closing`` is set."""
    listener = store.commit_listener()
    if listener is not None:
        await listener.start()
    try:
        yield "retry: 1000\n\n"
        deadline = time.monotonic() + lifetime_s
        while not closing.is_set() and time.monotonic() < deadline:
            generation = store.appended.generation
            events = await store.read_batch(after=after, limit=batch)
            if events:
                after = events[-1].position
                yield _message(after, render(events))
                if len(events) == batch:
                    continue
            heard = listener is None or listener.connected
            timeout = min(deadline - time.monotonic(), 15.0 if heard else fallback_poll_s)
            await _commit_or_close(store, generation, closing, max(timeout, 0.0))
            yield ": idle\n\n"  # tells a proxy the connection is alive
    finally:
        if listener is not None:
            await listener.stop()


def _message(position: int, html: str) -> str:
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"id: {position}\nevent: events\n{data}\n"


async def _commit_or_close(
    store: EventStoreBackend, generation: int, closing: asyncio.Event, timeout_s: float
) -> None:
    waits = [
        asyncio.ensure_future(store.appended.wait(generation, timeout_s)),
        asyncio.ensure_future(closing.wait()),
    ]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
