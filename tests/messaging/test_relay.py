"""The relay publishes committed events to every bus, in order, without loss."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from eskit.messaging import Bus
from eskit.messaging.envelope import incoming_event
from eskit.messaging.relay import Relay
from eskit.store import EventStoreBackend, require_transactions
from tests.messaging.support import drain, log_of, running, versions_by_stream, write

pytestmark = pytest.mark.integration


async def test_every_committed_event_reaches_the_bus_with_its_headers(
    sql_store: EventStoreBackend, bus: Bus
) -> None:
    store = require_transactions(sql_store, "the relay")
    await write(store, writer=1, count=12)

    async with running(Relay(store, bus)):
        received = await drain(bus, "readers", 12)

    log = await log_of(store)
    events = {e.event_id: e for e in map(incoming_event, received)}
    assert set(events) == {str(e.event_id) for e in log}
    for stored in log:
        event = events[str(stored.event_id)]
        assert (event.stream_id, event.version, event.position) == (
            stored.stream_id,
            stored.version,
            stored.position,
        )
        assert (event.event_type, event.data) == (stored.event_type, stored.data)


async def test_sixteen_writers_two_groups_each_stream_in_order_nothing_missing(
    sql_store: EventStoreBackend, bus: Bus
) -> None:
    store = require_transactions(sql_store, "the relay")
    async with running(Relay(store, bus, batch_size=100)) as relay:
        await asyncio.gather(*(write(store, writer=w, count=25) for w in range(16)))
        log = await log_of(store)
        while len(log) < 16 * 25:  # the relay's own commits may hold PostgreSQL's readers back
            await asyncio.sleep(0.05)
            log = await log_of(store)
        groups = await asyncio.gather(drain(bus, "search", len(log)), drain(bus, "audit", len(log)))
        assert relay.status().state == "running"

    expected = {
        stream: [e.version for e in log if e.stream_id == stream]
        for stream in {e.stream_id for e in log}
    }
    for received in groups:
        assert versions_by_stream(received) == expected


async def test_the_checkpoint_moves_only_past_what_was_published(
    sql_store: EventStoreBackend, bus: Bus
) -> None:
    store = require_transactions(sql_store, "the relay")
    await write(store, writer=1, count=5)
    relay = Relay(store, bus, name="once")
    await relay.load()

    assert await relay.step() == 5
    assert await Relay(store, bus, name="once").load() == (await log_of(store))[-1].position
    assert await relay.step() == 0


async def test_a_mapper_publishes_integration_events_and_keeps_others_in(
    sql_store: EventStoreBackend, bus: Bus
) -> None:
    from eskit.messaging import OutgoingMessage
    from eskit.store import StoredEvent

    def public(event: StoredEvent) -> OutgoingMessage | None:
        if event.data["seq"] % 2:
            return None  # odd ones stay inside the service
        return OutgoingMessage(
            message_id=str(event.event_id),
            stream_type="counter",
            key=event.stream_id,
            body=orjson.dumps({"number": event.data["seq"]}),
            headers={"eskit-event-type": "public.counted.v1"},
        )

    store = require_transactions(sql_store, "the relay")
    await write(store, writer=1, count=6)
    async with running(Relay(store, bus, mapper=public)):
        received = await drain(bus, "partner", 3)

    assert sorted(orjson.loads(d.body)["number"] for d in received) == [0, 2, 4]
    assert {d.headers["eskit-event-type"] for d in received} == {"public.counted.v1"}
