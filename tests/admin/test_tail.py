"""The console's live tail: woken by commits, resumable, ended by the server's stop."""

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from eskit.admin.tail import tail_events
from eskit.domain import Event
from eskit.store import NO_STREAM, SQLiteEventStore, StoredEvent

pytestmark = pytest.mark.integration


class Noted(Event):
    text: str


def render(events: Sequence[StoredEvent]) -> str:
    return "\n".join(f"<tr>{e.stream_id} {e.version}</tr>" for e in events)


async def test_an_event_committed_while_waiting_arrives_at_once(tmp_path: Path) -> None:
    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        await store.append("n-1", [Noted(text="a")], expected_version=NO_STREAM)
        head = await store.last_position()
        closing = asyncio.Event()
        tail = aiter(tail_events(store, head, render, closing, fallback_poll_s=30.0))
        assert await anext(tail) == "retry: 1000\n\n"
        waiting = asyncio.ensure_future(anext(tail))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # nothing after the head yet: it waits for a commit

        await store.append("n-2", [Noted(text="b")], expected_version=NO_STREAM)
        idle = await asyncio.wait_for(waiting, 5.0)
        message = await asyncio.wait_for(anext(tail), 5.0)

        assert idle == ": idle\n\n"
        assert message == f"id: {head + 1}\nevent: events\ndata: <tr>n-2 1</tr>\n\n"
        closing.set()
        await tail.aclose()  # type: ignore[attr-defined]


async def test_a_reconnecting_reader_gets_only_what_came_after_its_last_id(
    tmp_path: Path,
) -> None:
    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        for n in range(3):
            await store.append(f"n-{n}", [Noted(text="x")], expected_version=NO_STREAM)
        closing = asyncio.Event()
        tail = aiter(tail_events(store, 1, render, closing))
        await anext(tail)

        message = await asyncio.wait_for(anext(tail), 5.0)

        assert message == "id: 3\nevent: events\ndata: <tr>n-1 1</tr>\ndata: <tr>n-2 1</tr>\n\n"
        closing.set()
        await tail.aclose()  # type: ignore[attr-defined]


async def test_the_tail_ends_when_the_server_stops(tmp_path: Path) -> None:
    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        closing = asyncio.Event()
        messages = []

        async def read() -> None:
            async for message in tail_events(store, 0, render, closing, lifetime_s=60.0):
                messages.append(message)

        reading = asyncio.ensure_future(read())
        await asyncio.sleep(0.05)
        closing.set()

        await asyncio.wait_for(reading, 2.0)
        assert messages[0] == "retry: 1000\n\n"
