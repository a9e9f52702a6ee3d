"""Two runners of one projection: only the lease holder handles events, the other stands by
and takes over when the holder stops, dies (its lease expires) or loses its lease; status
says which runner works, where, since when (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest

from eskit.errors import StoreUnavailableError
from eskit.projections import ProjectionRunner, ProjectionStatus, Subscription
from eskit.store import (
    EventStoreBackend,
    ForwardingStore,
    StoredEvent,
    TransactionalStore,
    UnitOfWork,
    require_transactions,
)
from eskit.store.leases import LeaseHolder
from eskit.testing.contract._events import ItemAdded

pytestmark = pytest.mark.integration

NAME = "leased_items"
LEASE = "projection:leased_items"
TTL_S, RETRY_S = 1.0, 0.05


class Recorder:
    """A subscription's handler that remembers the positions it got."""

    def __init__(self) -> None:
        self.positions: list[int] = []

    async def __call__(self, events: Sequence[StoredEvent]) -> None:
        self.positions += [e.position for e in events]


def runner(store: EventStoreBackend, recorder: Recorder) -> ProjectionRunner:
    return ProjectionRunner(
        store,
        [Subscription(NAME, recorder, event_types=["ItemAdded"])],
        lease_ttl_s=TTL_S,
        lease_retry_s=RETRY_S,
    )


async def append_items(store: EventStoreBackend, stream: str, count: int) -> int:
    items = [ItemAdded(item=f"{stream}-{n}") for n in range(count)]
    return (await store.append(stream, items, expected_version=0)).position


async def status(of: ProjectionRunner) -> ProjectionStatus:
    [found] = await of.status()
    return found


async def until(condition: object, what: str, timeout_s: float = 10.0) -> float:
    """Seconds until ``condition()`` (sync or async) holds; fails after ``timeout_s``."""
    started = time.monotonic()
    while True:
        answer = condition()  # type: ignore[operator]
        if asyncio.iscoroutine(answer):
            answer = await answer
        if answer:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout_s, f"timed out waiting until {what}"
        await asyncio.sleep(0.01)


async def holding(of: ProjectionRunner) -> bool:
    assert of.leases is not None
    return bool(of.leases.here(LEASE))


async def test_only_the_lease_holder_handles_events_the_other_stands_by(
    sql_store: EventStoreBackend,
) -> None:
    first, second = Recorder(), Recorder()
    async with runner(sql_store, first) as a:
        await until(lambda: holding(a), "the first runner holds the lease")
        async with runner(sql_store, second) as b:
            head = await append_items(sql_store, "cart-1", 20)
            await a.wait_for(head)
            await asyncio.sleep(4 * RETRY_S)  # the standby tried several times meanwhile

            assert len(first.positions) == 20
            assert second.positions == []
            mine, theirs = await status(a), await status(b)
            assert a.leases is not None
            assert mine.lease is not None
            assert theirs.lease is not None
            assert mine.lease.state == "running_here"
            assert theirs.lease.state == "standby"
            assert theirs.state == "live"  # judged by what the holder stored
            for lease in (mine.lease, theirs.lease):
                assert (lease.holder, lease.pid) == (a.leases.holder.id, os.getpid())
                assert lease.since is not None
                assert lease.beat_at is not None
                assert lease.since <= lease.beat_at


async def test_the_standby_takes_over_at_once_when_the_holder_stops(
    sql_store: EventStoreBackend,
) -> None:
    first, second = Recorder(), Recorder()
    a = runner(sql_store, first)
    await a.start()
    await until(lambda: holding(a), "the first runner holds the lease")
    async with runner(sql_store, second) as b:
        done = await append_items(sql_store, "cart-1", 5)
        await a.wait_for(done)

        await a.stop()  # releases its lease: no ttl to wait for
        taken_s = await until(lambda: holding(b), "the standby holds the lease")
        head = await append_items(sql_store, "cart-2", 5)
        await b.wait_for(head)

        assert taken_s < TTL_S
        assert len(first.positions) == 5
        assert len(second.positions) == 5
        assert not set(first.positions) & set(second.positions)
        assert (await status(b)).lease.state == "running_here"  # type: ignore[union-attr]


async def test_the_standby_takes_over_once_a_dead_holders_lease_expired(
    sql_store: EventStoreBackend,
) -> None:
    db = require_transactions(sql_store, "leases")
    dead = LeaseHolder("dead-holder", "gone.example", 4242)
    async with db.transaction() as tx:
        await tx.leases.acquire(LEASE, dead, ttl_s=TTL_S)
    taken_at = time.monotonic()
    recorder = Recorder()
    observer = runner(sql_store, Recorder())  # never started: reads what is stored
    await observer.prepare()
    async with runner(sql_store, recorder) as b:
        head = await append_items(sql_store, "cart-1", 3)
        elsewhere = await status(observer)
        standby = await status(b)
        await b.wait_for(head, timeout_s=TTL_S + 5)
        waited_s = time.monotonic() - taken_at

    assert elsewhere.lease is not None
    assert standby.lease is not None
    assert (elsewhere.lease.state, elsewhere.lease.host, elsewhere.lease.pid) == (
        "running_elsewhere",
        "gone.example",
        4242,
    )
    assert standby.lease.state == "standby"
    assert TTL_S * 0.9 <= waited_s < TTL_S + 1.0
    assert len(recorder.positions) == 3
    assert (await status(observer)).lease.state == "not_running"  # type: ignore[union-attr]


async def test_an_expired_lease_shows_as_expired(sql_store: EventStoreBackend) -> None:
    db = require_transactions(sql_store, "leases")
    async with db.transaction() as tx:
        await tx.leases.acquire(LEASE, LeaseHolder("dead", "gone.example", 1), ttl_s=0.05)
    observer = runner(sql_store, Recorder())
    await observer.prepare()
    await asyncio.sleep(0.2)

    lease = (await status(observer)).lease

    assert lease is not None
    assert (lease.state, lease.host) == ("expired", "gone.example")


async def test_a_holder_that_loses_its_lease_stops_working_and_stands_by(
    sql_store: EventStoreBackend,
) -> None:
    db = require_transactions(sql_store, "leases")
    recorder = Recorder()
    async with runner(sql_store, recorder) as a:
        await until(lambda: holding(a), "the runner holds the lease")
        thief = LeaseHolder("thief", "elsewhere.example", 7)
        await steal(db, a, thief)

        lost_s = await until(lambda: not_holding(a), "the runner notices it lost the lease")
        await append_items(sql_store, "cart-1", 4)
        await asyncio.sleep(4 * RETRY_S)
        handled_while_stolen = list(recorder.positions)
        async with db.transaction() as tx:
            await tx.leases.release(LEASE, thief.id)
        await until(lambda: holding(a), "the runner takes its lease back")
        await a.wait_for(await sql_store.last_position())

    assert lost_s <= TTL_S / 3 + 0.5  # noticed at its next heartbeat
    assert handled_while_stolen == []
    assert len(recorder.positions) == 4


async def steal(db: TransactionalStore, victim: ProjectionRunner, thief: LeaseHolder) -> None:
    """Take the lease from under ``victim`` (as a process would once its lease expired)."""
    assert victim.leases is not None
    async with db.transaction() as tx:
        assert await tx.leases.release(LEASE, victim.leases.holder.id)
        assert (await tx.leases.acquire(LEASE, thief, ttl_s=60)).held_by(thief.id)


async def not_holding(of: ProjectionRunner) -> bool:
    return not await holding(of)


async def test_a_clean_stop_leaves_no_lease(sql_store: EventStoreBackend) -> None:
    db = require_transactions(sql_store, "leases")
    async with runner(sql_store, Recorder()) as a:
        await until(lambda: holding(a), "the runner holds the lease")
        assert [lease.name for lease in await db.committed.leases.list()] == [LEASE]

    assert await db.committed.leases.list() == []


async def test_catch_up_takes_no_lease(sql_store: EventStoreBackend) -> None:
    db = require_transactions(sql_store, "leases")
    recorder = Recorder()
    await append_items(sql_store, "cart-1", 3)
    one_shot = runner(sql_store, recorder)
    await one_shot.prepare()

    await one_shot.catch_up()

    assert len(recorder.positions) == 3
    assert await db.committed.leases.list() == []


class CutOffStore(ForwardingStore):
    """The store under test, whose transactions fail while ``cut_off`` (as when the database
    cannot be reached from this process)."""

    cut_off = False

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        if self.cut_off:
            raise StoreUnavailableError("cut off from the database (test)")
        return super().transaction()


async def test_a_holder_cut_off_from_the_database_stops_before_its_lease_ends(
    sql_store: EventStoreBackend,
) -> None:
    store = CutOffStore(sql_store)
    async with runner(store, Recorder()) as a:
        await until(lambda: holding(a), "the runner holds the lease")
        store.cut_off = True
        lost_s = await until(lambda: not_holding(a), "the runner gives up working")
        gave_up_at = datetime.now(UTC)
        [stored] = await require_transactions(sql_store, "leases").committed.leases.list()
        store.cut_off = False
        back_s = await until(lambda: holding(a), "the runner holds its lease again")

    # it stopped working before its lease (last renewed before the cut) ended, so another
    # process taking the lease then would not have worked beside it
    assert lost_s <= TTL_S + 0.1  # the test polls every 10 ms
    assert gave_up_at <= stored.expires_at + timedelta(seconds=0.05)  # polled every 10 ms
    assert back_s < TTL_S
