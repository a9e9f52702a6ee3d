"""What every transactional store must do with leases (``tx.leases``).

A lease is taken by compare-and-set: if it is free, expired, or the acquirer's own (then it
is renewed). Of many acquirers at once exactly one gets it. Releasing removes it, only for
its holder. Times come from one clock per store (the database's on PostgreSQL).
"""

from __future__ import annotations

import asyncio

import pytest

from eskit.store import TransactionalStore
from eskit.store.leases import Lease, LeaseHolder
from eskit.testing.contract.hooks import TransactionalStoreUnderTest

__all__ = ["LeaseContract"]

A = LeaseHolder("holder-a", "host-a", 101)
B = LeaseHolder("holder-b", "höst-b ✓", 202)


class _Refused(Exception):  # noqa: N818 - the test's own reason to leave a block
    """Raised inside a unit of work to make it roll back."""


async def acquire(
    db: TransactionalStore, holder: LeaseHolder, name: str = "projection:orders", ttl_s: float = 30
) -> Lease:
    async with db.transaction() as tx:
        return await tx.leases.acquire(name, holder, ttl_s=ttl_s)


async def release(
    db: TransactionalStore, holder: LeaseHolder, name: str = "projection:orders"
) -> bool:
    async with db.transaction() as tx:
        return await tx.leases.release(name, holder.id)


class LeaseContract(TransactionalStoreUnderTest):
    """Leases on named loops: acquire-or-renew by compare-and-set, release, list."""

    # -- acquiring ----------------------------------------------------------------------------

    async def test_a_free_lease_is_taken_for_its_time_to_live(self, db: TransactionalStore) -> None:
        lease = await acquire(db, A, ttl_s=30)

        assert (lease.name, lease.holder, lease.host, lease.pid) == (
            "projection:orders",
            "holder-a",
            "host-a",
            101,
        )
        assert lease.held_by("holder-a")
        assert lease.acquired_at == lease.beat_at
        assert (lease.expires_at - lease.beat_at).total_seconds() == pytest.approx(30, abs=0.01)
        assert await db.committed.leases.list() == [lease]

    async def test_a_lease_held_by_another_is_not_taken(self, db: TransactionalStore) -> None:
        held = await acquire(db, A)

        answer = await acquire(db, B)

        assert answer == held
        assert not answer.held_by("holder-b")
        assert await db.committed.leases.list() == [held]

    async def test_the_holder_renews_its_lease_keeping_since(self, db: TransactionalStore) -> None:
        first = await acquire(db, A, ttl_s=30)
        await asyncio.sleep(0.01)

        renewed = await acquire(db, A, ttl_s=60)

        assert renewed.held_by("holder-a")
        assert renewed.acquired_at == first.acquired_at
        assert renewed.beat_at > first.beat_at
        assert renewed.expires_at > first.expires_at

    async def test_an_expired_lease_is_taken_by_another(self, db: TransactionalStore) -> None:
        first = await acquire(db, A, ttl_s=0.05)
        await asyncio.sleep(0.15)

        taken = await acquire(db, B, ttl_s=30)

        assert taken.held_by("holder-b")
        assert (taken.host, taken.pid) == ("höst-b ✓", 202)
        assert taken.acquired_at >= first.expires_at

    async def test_an_expired_lease_is_listed_as_expired(self, db: TransactionalStore) -> None:
        await acquire(db, A, ttl_s=0.05)
        await asyncio.sleep(0.15)

        [lease] = await db.committed.leases.list()

        assert lease.expired
        assert not lease.held_by("holder-a")

    async def test_a_lease_taken_in_a_rolled_back_transaction_is_not_kept(
        self, db: TransactionalStore
    ) -> None:
        async def acquire_then_refuse() -> None:
            async with db.transaction() as tx:
                await tx.leases.acquire("projection:orders", A, ttl_s=30)
                raise _Refused

        with pytest.raises(_Refused):
            await acquire_then_refuse()

        assert await db.committed.leases.list() == []
        assert (await acquire(db, B)).held_by("holder-b")

    async def test_a_time_to_live_that_is_not_positive_is_refused(
        self, db: TransactionalStore
    ) -> None:
        for ttl_s in (0.0, -1.0, float("nan"), float("inf")):
            with pytest.raises(ValueError, match="positive"):
                await acquire(db, A, ttl_s=ttl_s)

    # -- many at once --------------------------------------------------------------------------

    async def test_of_many_acquirers_of_a_free_lease_exactly_one_wins(
        self, db: TransactionalStore
    ) -> None:
        holders = [LeaseHolder(f"holder-{i}", "host", i) for i in range(12)]

        leases = await asyncio.gather(*(acquire(db, h, "relay:outbox") for h in holders))

        winners = [h.id for h, lease in zip(holders, leases, strict=True) if lease.held_by(h.id)]
        assert len(winners) == 1
        assert {lease.holder for lease in leases} == set(winners)
        [stored] = await db.committed.leases.list(["relay:outbox"])
        assert stored.holder == winners[0]

    async def test_of_many_acquirers_of_an_expired_lease_exactly_one_wins(
        self, db: TransactionalStore
    ) -> None:
        await acquire(db, A, "relay:outbox", ttl_s=0.05)
        await asyncio.sleep(0.15)
        holders = [LeaseHolder(f"holder-{i}", "host", i) for i in range(12)]

        leases = await asyncio.gather(*(acquire(db, h, "relay:outbox") for h in holders))

        winners = [h.id for h, lease in zip(holders, leases, strict=True) if lease.held_by(h.id)]
        assert len(winners) == 1
        assert {lease.holder for lease in leases} == set(winners)

    # -- releasing and listing ----------------------------------------------------------------

    async def test_release_frees_the_lease_at_once(self, db: TransactionalStore) -> None:
        await acquire(db, A)

        assert await release(db, A)

        assert await db.committed.leases.list() == []
        assert (await acquire(db, B)).held_by("holder-b")

    async def test_only_the_holder_releases_a_lease(self, db: TransactionalStore) -> None:
        held = await acquire(db, A)

        assert not await release(db, B)
        assert not await release(db, A, "projection:other")

        assert await db.committed.leases.list() == [held]

    async def test_list_gives_the_leases_on_the_names_asked_by_name(
        self, db: TransactionalStore
    ) -> None:
        for name in ("relay:outbox", "consumer:billing", "projection:orders"):
            await acquire(db, A, name)

        everything = await db.committed.leases.list()
        some = await db.committed.leases.list(["projection:orders", "relay:outbox", "missing"])
        none = await db.committed.leases.list([])

        assert [lease.name for lease in everything] == [
            "consumer:billing",
            "projection:orders",
            "relay:outbox",
        ]
        assert [lease.name for lease in some] == ["projection:orders", "relay:outbox"]
        assert none == []

    async def test_a_transaction_reads_its_own_lease(self, db: TransactionalStore) -> None:
        async with db.transaction() as tx:
            lease = await tx.leases.acquire("projection:orders", A, ttl_s=30)
            assert await tx.leases.list(["projection:orders"]) == [lease]
            assert await db.committed.leases.list() == []
