"""Catching up reads the next page while the last one is handled: nothing is lost or doubled."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from eskit.domain.events import Event
from eskit.projections import Projection, ProjectionContext, ProjectionRunner, Table, handles
from eskit.store import ANY, EventStoreBackend, require_transactions

pytestmark = pytest.mark.integration


class Ticked(Event):
    event_type = "read_ahead.Ticked"
    n: int


SEEN = Table("read_ahead_seen", {"position": int, "n": int}, key="position")


class Seen(Projection):
    """One row per event handled; handling one event twice would fail on the row's key
    only if it wrote twice, so the handler also counts what it handled."""

    name = "read_ahead_seen"
    read_models = (SEEN,)
    handled: ClassVar[list[int]] = []

    @handles(Ticked)
    async def ticked(self, event: Ticked, ctx: ProjectionContext) -> None:
        Seen.handled.append(ctx.event.position)
        await ctx.writer(SEEN).upsert({"position": ctx.event.position, "n": event.n})
        await asyncio.sleep(0)  # let appends and the page read ahead run meanwhile


async def test_catching_up_in_small_batches_while_others_append_handles_each_event_once(
    sql_store: EventStoreBackend,
) -> None:
    Seen.handled = []
    for n in range(25):
        await sql_store.append("ticks", [Ticked(n=n)], expected_version=ANY)
    runner = ProjectionRunner(sql_store, [Seen()], batch_size=4, listen=False)
    await runner.prepare()

    async def keep_appending() -> None:
        for n in range(25, 60):
            await sql_store.append("ticks", [Ticked(n=n)], expected_version=ANY)
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_appending())
    while not writer.done():
        await runner.catch_up()
        await asyncio.sleep(0)
    await writer
    await runner.catch_up()

    positions = [e.position async for e in sql_store.read_all()]
    assert Seen.handled == positions  # each once, in order
    store = require_transactions(sql_store, "tests")
    rows = await SEEN.select(store, limit=1000)
    assert [r["n"] for r in rows] == list(range(60))
    assert runner.worker(Seen.name)._ahead is None  # nothing left reading


async def test_a_running_runner_handles_every_event_appended_while_it_catches_up(
    sql_store: EventStoreBackend,
) -> None:
    Seen.handled = []
    for n in range(20):
        await sql_store.append("ticks", [Ticked(n=n)], expected_version=ANY)
    async with ProjectionRunner(sql_store, [Seen()], batch_size=3) as runner:
        last = None
        for n in range(20, 40):
            last = await sql_store.append("ticks", [Ticked(n=n)], expected_version=ANY)
        assert last is not None
        await runner.wait_for(last.position, timeout_s=10)

    positions = [e.position async for e in sql_store.read_all()]
    assert Seen.handled == positions
