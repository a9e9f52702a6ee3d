"""What every transactional store must do with its command queue (``tx.queue``).

Commands are stored once per id and commit with the transaction that queued them; a key
is held by one live (queued or running) command at a time. Claims take due commands
oldest due first, for a lease: a running command is taken again only once its lease
ended, and concurrent claimers never take one command twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from eskit.store import TransactionalStore
from eskit.store.queue import QueuedCommand, QueueDepth, QueueStatus
from eskit.testing.contract.hooks import TransactionalStoreUnderTest

__all__ = ["QueueContract"]

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


class _Refused(Exception):  # noqa: N818 - the test's own reason to leave a block
    """Raised inside a unit of work to make it roll back."""


def command(
    name: str = "a",
    *,
    due: datetime = T0,
    enqueued: datetime = T0,
    key: str | None = None,
) -> QueuedCommand:
    """A queued command named ``name`` (in its payload), due at ``due``."""
    return QueuedCommand(
        id=uuid.uuid4(),
        command_type="PlaceOrder",
        payload=f'{{"name": "{name}", "note": "ünï ✓"}}',
        available_at=due,
        enqueued_at=enqueued,
        metadata={"name": name, "nested": {"n": 2**62}},
        key=key,
    )


async def enqueue(db: TransactionalStore, *commands: QueuedCommand) -> int:
    async with db.transaction() as tx:
        return await tx.queue.enqueue(commands)


async def claim(
    db: TransactionalStore, now: datetime, limit: int = 100, lease_s: float = 30
) -> list[QueuedCommand]:
    async with db.transaction() as tx:
        return await tx.queue.claim(now=now, limit=limit, lease_s=lease_s)


async def finish(
    db: TransactionalStore,
    command_id: uuid.UUID,
    status: QueueStatus = "done",
    now: datetime = T0,
) -> bool:
    async with db.transaction() as tx:
        return await tx.queue.finish(command_id, status=status, outcome={"ok": True}, now=now)


def names(commands: Sequence[QueuedCommand]) -> list[str]:
    return [c.metadata["name"] for c in commands]


class QueueContract(TransactionalStoreUnderTest):
    """The durable command queue: enqueue, claim with a lease, finish, retry, cancel."""

    # -- enqueueing ---------------------------------------------------------------------------

    async def test_an_enqueued_command_is_read_back_as_given(self, db: TransactionalStore) -> None:
        queued = command(due=T0 + timedelta(minutes=5), key="deadline-1")

        async with db.transaction() as tx:
            assert await tx.queue.enqueue([queued]) == 1
            assert await tx.queue.get(queued.id) == dataclasses.replace(queued, updated_at=T0)

        assert await db.committed.queue.get(queued.id) == dataclasses.replace(queued, updated_at=T0)
        assert await db.committed.queue.get(uuid.uuid4()) is None

    async def test_enqueueing_one_id_twice_stores_it_once(self, db: TransactionalStore) -> None:
        queued = command()

        assert await enqueue(db, queued, queued) == 1
        assert await enqueue(db, dataclasses.replace(queued, payload="{}")) == 0

        stored = await db.committed.queue.list()
        assert [(c.id, c.payload) for c in stored] == [(queued.id, queued.payload)]

    async def test_a_key_held_by_a_live_command_ignores_the_next_one(
        self, db: TransactionalStore
    ) -> None:
        first, second = command("first", key="k"), command("second", key="k")
        await enqueue(db, first)

        assert await enqueue(db, second, command("other", key="k2")) == 1

        assert await db.committed.queue.get(second.id) is None
        assert sorted(names(await db.committed.queue.list())) == ["first", "other"]

    async def test_a_cancelled_key_is_free_again(self, db: TransactionalStore) -> None:
        await enqueue(db, command("first", key="k"))

        async with db.transaction() as tx:
            assert await tx.queue.cancel("k")
            assert not await tx.queue.cancel("k")
        assert await enqueue(db, command("second", key="k")) == 1

        assert names(await db.committed.queue.list()) == ["second"]

    async def test_cancel_leaves_a_running_command(self, db: TransactionalStore) -> None:
        running = command(key="k")
        await enqueue(db, running)
        await claim(db, T0)

        async with db.transaction() as tx:
            assert not await tx.queue.cancel("k")

        stored = await db.committed.queue.get(running.id)
        assert stored is not None
        assert stored.status == "running"

    async def test_a_finished_command_frees_its_key(self, db: TransactionalStore) -> None:
        first = command("first", key="k")
        await enqueue(db, first)
        await claim(db, T0)
        await finish(db, first.id)

        assert await enqueue(db, command("second", key="k")) == 1

    async def test_a_rolled_back_transaction_enqueues_nothing(self, db: TransactionalStore) -> None:
        queued = command(key="k")

        async def enqueue_then_refuse() -> None:
            async with db.transaction() as tx:
                await tx.queue.enqueue([queued])
                raise _Refused

        with pytest.raises(_Refused):
            await enqueue_then_refuse()

        assert await db.committed.queue.get(queued.id) is None
        assert await enqueue(db, command(key="k")) == 1

    # -- claiming ---------------------------------------------------------------------------

    async def test_claim_takes_only_due_commands_oldest_due_first(
        self, db: TransactionalStore
    ) -> None:
        await enqueue(
            db,
            command("later", due=T0 + timedelta(seconds=2)),
            command("sooner", due=T0, enqueued=T0 + timedelta(seconds=1)),
            command("not-yet", due=T0 + timedelta(hours=1)),
        )

        assert names(await claim(db, T0 + timedelta(seconds=5))) == ["sooner", "later"]

    async def test_claim_takes_at_most_limit(self, db: TransactionalStore) -> None:
        await enqueue(db, *(command(str(n), due=T0 + timedelta(seconds=n)) for n in range(5)))
        now = T0 + timedelta(minutes=1)

        assert names(await claim(db, now, limit=2)) == ["0", "1"]
        assert names(await claim(db, now, limit=2)) == ["2", "3"]
        assert names(await claim(db, now, limit=2)) == ["4"]
        assert await claim(db, now, limit=2) == []

    async def test_a_claimed_command_runs_with_one_more_attempt_and_a_lease(
        self, db: TransactionalStore
    ) -> None:
        queued = command()
        await enqueue(db, queued)
        now = T0 + timedelta(seconds=1)

        [claimed] = await claim(db, now, lease_s=30)

        expected = dataclasses.replace(
            queued,
            status="running",
            attempts=1,
            lease_until=now + timedelta(seconds=30),
            updated_at=now,
        )
        assert claimed == expected
        assert await db.committed.queue.get(queued.id) == expected

    async def test_a_command_whose_lease_ended_is_claimed_again(
        self, db: TransactionalStore
    ) -> None:
        queued = command()
        await enqueue(db, queued)
        await claim(db, T0, lease_s=10)

        [again] = await claim(db, T0 + timedelta(seconds=11), lease_s=10)

        assert (again.id, again.attempts) == (queued.id, 2)
        assert again.lease_until == T0 + timedelta(seconds=21)

    async def test_a_command_whose_lease_holds_is_not_claimed_again(
        self, db: TransactionalStore
    ) -> None:
        await enqueue(db, command())
        await claim(db, T0, lease_s=10)

        assert await claim(db, T0 + timedelta(seconds=9), lease_s=10) == []

    async def test_concurrent_claimers_take_each_command_exactly_once(
        self, db: TransactionalStore
    ) -> None:
        """Eight workers, each claiming small batches in transactions of its own and
        finishing what it took, drain 200 commands: every one is taken by one of them."""
        queued = [command(str(n), due=T0 + timedelta(microseconds=n)) for n in range(200)]
        await enqueue(db, *queued)
        now = T0 + timedelta(seconds=1)
        taken: list[uuid.UUID] = []

        async def worker() -> None:
            while True:
                async with db.transaction() as tx:
                    batch = await tx.queue.claim(now=now, limit=7, lease_s=60)
                    for claimed in batch:
                        assert await tx.queue.finish(
                            claimed.id, status="done", outcome={"by": "worker"}, now=now
                        )
                if not batch:
                    return
                taken.extend(c.id for c in batch)
                await asyncio.sleep(0)

        await asyncio.gather(*(worker() for _ in range(8)))

        assert sorted(taken) == sorted(c.id for c in queued)
        done = await db.committed.queue.list(status="done", limit=1000)
        assert len(done) == 200
        assert {c.attempts for c in done} == {1}

    # -- finishing and retrying -------------------------------------------------------------

    async def test_finish_records_the_status_and_outcome(self, db: TransactionalStore) -> None:
        queued = command()
        await enqueue(db, queued)
        await claim(db, T0)
        now = T0 + timedelta(seconds=3)
        outcome = {"aggregate_id": "order-1", "version": 2, "position": 9, "deduplicated": False}

        async with db.transaction() as tx:
            assert await tx.queue.finish(queued.id, status="done", outcome=outcome, now=now)

        stored = await db.committed.queue.get(queued.id)
        assert stored is not None
        assert (stored.status, stored.outcome, stored.updated_at) == ("done", outcome, now)
        assert stored.lease_until is None
        assert await claim(db, T0 + timedelta(hours=1)) == []

    async def test_finish_of_a_command_that_is_not_running_changes_nothing(
        self, db: TransactionalStore
    ) -> None:
        waiting, finished = command("waiting", due=T0 + timedelta(hours=1)), command("finished")
        await enqueue(db, waiting, finished)
        await claim(db, T0)
        assert await finish(db, finished.id, "refused")

        assert not await finish(db, waiting.id)
        assert not await finish(db, finished.id, "done")
        assert not await finish(db, uuid.uuid4())

        statuses = {c.metadata["name"]: c.status for c in await db.committed.queue.list()}
        assert statuses == {"waiting": "queued", "finished": "refused"}

    async def test_retry_puts_a_running_command_back_with_its_error_and_due_time(
        self, db: TransactionalStore
    ) -> None:
        queued = command()
        await enqueue(db, queued)
        await claim(db, T0)
        later = T0 + timedelta(seconds=60)

        async with db.transaction() as tx:
            assert await tx.queue.retry(queued.id, available_at=later, error="timeout", now=T0)

        stored = await db.committed.queue.get(queued.id)
        assert stored is not None
        assert (stored.status, stored.error, stored.available_at) == ("queued", "timeout", later)
        assert stored.lease_until is None
        assert await claim(db, later - timedelta(seconds=1)) == []
        [again] = await claim(db, later)
        assert (again.id, again.attempts, again.error) == (queued.id, 2, "timeout")

    async def test_retry_of_a_command_that_is_not_running_changes_nothing(
        self, db: TransactionalStore
    ) -> None:
        queued = command()
        await enqueue(db, queued)

        async with db.transaction() as tx:
            assert not await tx.queue.retry(queued.id, available_at=T0, error="e", now=T0)
            assert not await tx.queue.retry(uuid.uuid4(), available_at=T0, error="e", now=T0)

        stored = await db.committed.queue.get(queued.id)
        assert stored is not None
        assert (stored.status, stored.error) == ("queued", None)

    # -- depth and listing ------------------------------------------------------------------

    async def test_depth_counts_ready_running_and_scheduled_commands(
        self, db: TransactionalStore
    ) -> None:
        now = T0 + timedelta(minutes=10)
        await enqueue(
            db,
            command("claimed", due=T0),
            command("finished", due=T0 + timedelta(seconds=1)),
            command("ready", due=T0 + timedelta(minutes=2)),
            command("ready too", due=T0 + timedelta(minutes=3)),
            command("scheduled", due=now + timedelta(seconds=1)),
        )
        [_, finished] = await claim(db, T0 + timedelta(seconds=1))
        await finish(db, finished.id)

        depth = await db.committed.queue.depth(now)

        assert depth == QueueDepth(
            ready=2, running=1, scheduled=1, oldest_ready_at=T0 + timedelta(minutes=2)
        )

    async def test_depth_of_an_empty_queue_is_zero(self, db: TransactionalStore) -> None:
        assert await db.committed.queue.depth(T0) == QueueDepth()

    async def test_list_gives_commands_of_a_status_oldest_enqueued_first(
        self, db: TransactionalStore
    ) -> None:
        await enqueue(
            db,
            command("third", enqueued=T0 + timedelta(seconds=3), due=T0 + timedelta(hours=1)),
            command("first", enqueued=T0 + timedelta(seconds=1), due=T0 + timedelta(hours=1)),
            command("running", enqueued=T0 + timedelta(seconds=2)),
        )
        await claim(db, T0)

        assert names(await db.committed.queue.list(status="queued")) == ["first", "third"]
        assert names(await db.committed.queue.list(status="running")) == ["running"]
        assert names(await db.committed.queue.list()) == ["first", "running", "third"]
        assert names(await db.committed.queue.list(limit=1)) == ["first"]
        assert await db.committed.queue.list(status="dead") == []
