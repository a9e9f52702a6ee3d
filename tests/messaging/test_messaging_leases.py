"""Two processes' relays and consumers: only the lease holder publishes and consumes, the
other stands by and takes over when the first stops (SQLite and PostgreSQL; NATS, and the
in-process bus, where relay and consumers share one lease)."""

from __future__ import annotations

import uuid

import pytest

from eskit.messaging import Bus, InProcessBus, Topology
from eskit.messaging.background import IN_PROCESS_LEASE, MessagingTasks
from eskit.messaging.relay import Relay
from eskit.store import TransactionalStore
from eskit.testing.brokers import NatsServer
from tests.messaging.support import applied, counting, eventually, write

pytestmark = pytest.mark.integration

TTL_S, RETRY_S = 1.0, 0.05


def tasks(db: TransactionalStore, bus: Bus, *, consumers: bool) -> MessagingTasks:
    return MessagingTasks(
        db,
        bus,
        relay=Relay(db, bus),
        consumers=[counting()] if consumers else [],
        lease_ttl_s=TTL_S,
        lease_retry_s=RETRY_S,
    )


def published(of: MessagingTasks) -> int:
    assert of.relay is not None
    return of.relay.published


def lease_state(of: MessagingTasks) -> str | None:
    status = of.relay_status()
    assert status is not None
    return None if status.lease is None else status.lease.state


async def holds(of: MessagingTasks) -> bool:
    return lease_state(of) == "running_here"


async def test_on_the_in_process_bus_one_process_relays_and_consumes_the_other_stands_by(
    db: TransactionalStore,
) -> None:
    first, second = (
        tasks(db, InProcessBus(), consumers=True),
        tasks(db, InProcessBus(), consumers=True),
    )
    await first.start()
    try:
        await eventually(lambda: holds(first), timeout_s=10)
        await second.start()
        await write(db, writer=1, count=30)

        async def first_applied_all() -> bool:
            return sum(len(seqs) for seqs in (await applied(db)).values()) == 30

        await eventually(first_applied_all, timeout_s=20)
        assert (published(first), published(second)) == (30, 0)
        assert (lease_state(first), lease_state(second)) == ("running_here", "standby")
        assert first.relay_lease == IN_PROCESS_LEASE
        status = second.relay_status()
        assert status is not None
        assert status.lease is not None
        assert first.leases is not None
        assert status.lease.holder == first.leases.holder.id
    finally:
        await first.stop()

    try:
        await eventually(lambda: holds(second), timeout_s=10)
        await write(db, writer=2, count=10)

        async def second_applied_the_rest() -> bool:
            return sum(len(seqs) for seqs in (await applied(db)).values()) == 40

        await eventually(second_applied_the_rest, timeout_s=20)
        assert published(second) == 10
    finally:
        await second.stop()
    totals = await applied(db)
    assert all(len(seqs) == len(set(seqs)) for seqs in totals.values())
    assert await db.committed.leases.list() == []


async def test_on_a_broker_one_relay_publishes_the_other_takes_over_when_it_stops(
    db: TransactionalStore, nats_server: NatsServer
) -> None:
    from eskit.messaging.nats_bus import JetStreamBus

    topology = Topology(prefix=f"lease{uuid.uuid4().hex[:8]}")
    first = tasks(db, JetStreamBus(nats_server.url, topology), consumers=False)
    second = tasks(db, JetStreamBus(nats_server.url, topology), consumers=False)
    await first.start()
    try:
        await eventually(lambda: holds(first), timeout_s=10)
        await second.start()
        await write(db, writer=1, count=20)

        async def first_published_all() -> bool:
            return published(first) == 20

        await eventually(first_published_all, timeout_s=20)
        assert published(second) == 0
        assert first.relay_lease == "relay:outbox"
        assert lease_state(second) == "standby"
    finally:
        await first.stop()

    try:
        await eventually(lambda: holds(second), timeout_s=10)
        await write(db, writer=2, count=5)

        async def second_published_the_rest() -> bool:
            return published(second) == 5

        await eventually(second_published_the_rest, timeout_s=20)
        assert published(first) == 20
    finally:
        await second.stop()
