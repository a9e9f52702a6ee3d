"""Each stream's events take effect in order, whichever member of a group gets them first."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import replace

import pytest

from eskit.messaging import Bus, Topology
from eskit.messaging.consumer import ConsumerRunner
from eskit.messaging.envelope import PREVIOUS_VERSION, event_message
from eskit.messaging.nats_bus import JetStreamBus
from eskit.messaging.relay import Relay
from eskit.store import TransactionalStore
from eskit.testing.brokers import NatsServer
from tests.messaging.support import applied, counting, eventually, log_of, running, write

pytestmark = pytest.mark.integration


async def test_relayed_messages_name_the_version_before_them(
    db: TransactionalStore, bus: Bus
) -> None:
    await write(db, writer=1, count=4, streams=2)
    await Relay(db, bus).step()
    filtered = Relay(db, bus, name="some", event_types=["test.counted"])

    prepared = await filtered._prepare(0)

    relayed = [event_message(e, previous=True) for e in await log_of(db)]
    assert [m.headers[PREVIOUS_VERSION] for m in relayed] == ["0", "0", "1", "1"]
    # a relay that leaves events out cannot say which one came before
    assert all(PREVIOUS_VERSION not in m.headers for m in prepared[1])


async def test_a_member_waits_for_the_event_another_member_holds(
    db: TransactionalStore, bus: Bus
) -> None:
    await write(db, writer=1, count=3, streams=1)
    await Relay(db, bus).step()
    consumer = replace(counting(), order_wait_s=60.0)

    async with bus.consumer(consumer.name, consumer.stream_types) as first:
        [held] = await first.fetch(1, 10.0)
        assert held.headers["eskit-version"] == "1"
        async with running(ConsumerRunner(db, bus, consumer)) as second:
            await asyncio.sleep(1.5)  # the second member has versions 2 and 3 meanwhile
            assert await applied(db) == {}
            await first.__aexit__(None, None, None)  # gives version 1 back

            async def all_in() -> bool:
                return await applied(db) == {"w1-s0": [0, 1, 2]}

            await eventually(all_in)
    assert second.out_of_order == 0


async def test_a_stream_waits_for_the_event_a_dead_member_held(
    db: TransactionalStore, nats_server: NatsServer
) -> None:
    bus = JetStreamBus(nats_server.url, Topology(prefix=f"t{uuid.uuid4().hex[:12]}"), ack_wait_s=2)
    try:
        await write(db, writer=1, count=3, streams=1)
        await write(db, writer=2, count=3, streams=1)
        await Relay(db, bus).step()
        consumer = replace(counting(), order_wait_s=60.0)
        dead = bus.consumer(consumer.name, consumer.stream_types)
        await dead.__aenter__()
        assert await dead.fetch(1, 10.0)  # and never acknowledged nor given back
        started = time.monotonic()
        async with running(ConsumerRunner(db, bus, consumer)) as live:

            async def all_in() -> bool:
                return await applied(db) == {"w1-s0": [0, 1, 2], "w2-s0": [0, 1, 2]}

            await eventually(all_in)
        waited = time.monotonic() - started
        assert live.held_back > 0
        assert live.out_of_order == 0
        assert waited >= 1.5  # the server redelivered what the dead member held after its ack wait
        await dead.__aexit__(None, None, None)
    finally:
        await bus.close()


async def test_an_event_whose_predecessor_never_comes_is_applied_after_the_wait(
    db: TransactionalStore, bus: Bus
) -> None:
    await write(db, writer=1, count=3, streams=1)
    events = await log_of(db)
    lost = event_message(events[1], previous=True)
    await bus.publish(
        [event_message(e, previous=True) for e in events if str(e.event_id) != lost.message_id]
    )
    consumer = replace(counting(), order_wait_s=1.0)

    async with running(ConsumerRunner(db, bus, consumer)) as runner:

        async def both_in() -> bool:
            return await applied(db) == {"w1-s0": [0, 2]}

        await eventually(both_in)
        await bus.publish([lost])  # late: applied all the same, never dropped

        async def all_in() -> bool:
            return await applied(db) == {"w1-s0": [0, 2, 1]}

        await eventually(all_in)
    # version 3 waited out, then version 2 came after it; Kafka's partitions keep the order
    # the broker got, so there is nothing to wait for there
    assert runner.out_of_order == (0 if bus.keeps_key_order else 2)


async def test_a_dead_lettered_event_does_not_hold_its_stream_back(
    db: TransactionalStore, bus: Bus
) -> None:
    await write(db, writer=1, count=4, streams=1)
    await Relay(db, bus).step()
    consumer = replace(counting(fail_on={1}), order_wait_s=60.0)

    async with running(ConsumerRunner(db, bus, consumer)) as runner:

        async def rest_in() -> bool:
            return await applied(db) == {"w1-s0": [0, 2, 3]}

        await eventually(rest_in, timeout_s=20)
    assert runner.dead_lettered == 1
    assert runner.out_of_order == 0


async def test_sixteen_writers_two_groups_of_two_members_apply_every_stream_in_order(
    db: TransactionalStore, bus: Bus
) -> None:
    async with db.transaction() as tx:
        await tx.documents.create("totals_search")
        await tx.documents.create("totals_audit")
    groups = {
        totals: replace(counting(name=totals, totals=totals), batch_size=10)
        for totals in ("totals_search", "totals_audit")
    }
    members = [ConsumerRunner(db, bus, c) for c in groups.values() for _ in range(2)]
    async with contextlib.AsyncExitStack() as stack:
        for member in members:
            await stack.enter_async_context(running(member))
        async with running(Relay(db, bus, batch_size=50)):
            await asyncio.gather(*(write(db, writer=w, count=20) for w in range(16)))
            fresh = {f"w{w}-s{s}": list(range(s, 20, 3)) for w in range(16) for s in range(3)}

            async def all_in() -> bool:
                return all([await applied(db, totals) == fresh for totals in groups])

            await eventually(all_in, timeout_s=60)
    assert sum(m.out_of_order for m in members) == 0
    if not bus.keeps_key_order:  # members shared streams message by message, and yet
        assert all(m.handled for m in members)
