"""Failing handlers, parking, and two runners of one projection, on both backends.

* A poison event stops its projection exactly there: the events before it (in its batch
  too) are applied, none after it; the status says "failing" with the error and its
  position, and the error is stored in ``eskit_checkpoints`` where a runner made later, on
  another store object, reads it. Parking the event lets the projection go on; the dead
  letter is listed.
* A handler that fails twice and then succeeds leaves its event applied exactly once.
* Two runners of the same projection at once (each on its own store object, as two worker
  processes would be) still apply each event exactly once: the checkpoint's
  compare-and-set makes the loser's batch roll back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from eskit.errors import NotCaughtUpError
from eskit.projections import ProjectionRunner
from eskit.projections.dead_letters import dead_letters, park
from eskit.store import EventStoreBackend, StoredEvent
from tests.projections.support import (
    AppliedLog,
    AppliedLogProjection,
    RecordingProjection,
    assert_each_once,
    committed_head,
    eventually,
    fold_wallets,
    handle_with_retries,
    open_wallet,
    reopen,
    stored_positions,
    wallet_documents,
)
from tests.wallets.domain import Deposit, Deposited, InsufficientFundsError, Withdraw, build_handler
from tests.wallets.projections import WalletsById

pytestmark = pytest.mark.integration

POISON_LOG = AppliedLog("test_poison_applied")
FLAKY_LOG = AppliedLog("test_flaky_applied")


class PoisonProjection(RecordingProjection):
    """Refuses the deposit whose payment id is ``poison``, every time."""

    name = "test_poison"
    applied = POISON_LOG
    read_models = (POISON_LOG,)

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 0

    def check(self, record: StoredEvent) -> None:
        """Raise on the poison event."""
        if record.data.get("payment_id") == "poison":
            self.refusals += 1
            raise RuntimeError("the test refuses poison payments")


class FlakyProjection(RecordingProjection):
    """Fails twice on the event at ``position``, then handles it."""

    name = "test_flaky"
    applied = FLAKY_LOG
    read_models = (FLAKY_LOG,)

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position
        self.attempts = 0

    def check(self, record: StoredEvent) -> None:
        """Raise on the first two attempts at ``position``."""
        if record.position == self.position:
            self.attempts += 1
            if self.attempts <= 2:
                raise ConnectionError(f"transient failure {self.attempts}")


async def _deposits(store: EventStoreBackend, wallet_id: str, payment_ids: list[str]) -> None:
    handler = build_handler(store)
    for payment_id in payment_ids:
        await handler.handle(Deposit(aggregate_id=wallet_id, amount=5, payment_id=payment_id))


async def _poison_position(store: EventStoreBackend) -> int:
    async for record in store.read_all(event_types=[Deposited.event_type]):
        if record.data["payment_id"] == "poison":
            return record.position
    raise AssertionError("no poison event stored")


async def test_poison_event_stops_the_projection_until_parked(
    sql_store: EventStoreBackend,
) -> None:
    """Stops exactly at the poison event, says so, and goes on once it is parked."""
    handler = build_handler(sql_store)
    await handler.handle(open_wallet("acc-1"))
    await _deposits(sql_store, "acc-1", [f"p{n}" for n in range(5)] + ["poison"])
    await _deposits(sql_store, "acc-1", [f"q{n}" for n in range(5)])
    positions = await stored_positions(sql_store)
    poison = await _poison_position(sql_store)
    before = [p for p in positions if p < poison]
    assert len(before) == 6  # with batches of 4, the poison event is in a batch's middle

    projection = PoisonProjection()
    runner = ProjectionRunner(
        sql_store, [projection], batch_size=4, retry_backoff_s=0.01, max_backoff_s=0.05
    )
    async with runner:

        async def failing() -> bool:
            return (await runner.status())[0].state == "failing"

        await eventually(failing, what="the projection to report its failure")
        with pytest.raises(NotCaughtUpError):
            await runner.wait_for(poison, timeout_s=0.3)

        # stopped exactly there: everything before applied once, nothing from the poison on
        assert_each_once(await POISON_LOG.counts(runner.store), before)
        assert runner.worker(projection.name).position == before[-1]
        (status,) = await runner.status()
        assert status.state == "failing"
        assert status.position == before[-1]
        assert status.error_position == poison
        assert status.error is not None
        assert "the test refuses poison payments" in status.error
        assert "RuntimeError" in status.error

        # stored where another process sees it: a runner made now, on another store object
        async with reopen(sql_store) as other_store:
            observer = ProjectionRunner(other_store, [PoisonProjection()])
            await observer.prepare()
            (seen,) = await observer.status()
            assert seen.state == "failing"
            assert seen.position == before[-1]
            assert seen.error_position == poison
            assert seen.error is not None
            assert "the test refuses poison payments" in seen.error
            assert seen.error_count >= 1
        stored = await runner.store.committed.checkpoints.get(projection.name)
        assert stored.position == before[-1]
        assert stored.error_position == poison
        assert stored.error is not None
        assert "the test refuses poison payments" in stored.error
        refusals = projection.refusals
        assert refusals >= 1

        letter = await park(runner.store, projection.name)
        assert letter.position == poison
        assert letter.stream_id == "acc-1"
        assert letter.event_type == Deposited.event_type
        assert "the test refuses poison payments" in letter.error

        await runner.wait_for(positions[-1], timeout_s=10)
        await _deposits(sql_store, "acc-1", [f"r{n}" for n in range(3)])
        head = await committed_head(sql_store)
        await runner.wait_for(head, timeout_s=10)
        (status,) = await runner.status()

    everything = await stored_positions(sql_store)
    assert_each_once(await POISON_LOG.counts(runner.store), [p for p in everything if p != poison])
    assert status.state == "live"
    assert status.error is None
    assert status.error_position is None
    assert status.position == head
    stored = await runner.store.committed.checkpoints.get(projection.name)
    assert (stored.position, stored.error, stored.error_position) == (head, None, None)
    letters = await dead_letters(runner.store)
    assert [(d.projection, d.position, d.event_type) for d in letters] == [
        (projection.name, poison, Deposited.event_type)
    ]
    assert "the test refuses poison payments" in letters[0].error
    assert await dead_letters(runner.store, "some_other_projection") == []


async def test_transient_failure_applies_the_event_once(sql_store: EventStoreBackend) -> None:
    """A handler that fails twice then succeeds: its event is applied exactly once."""
    handler = build_handler(sql_store)
    await handler.handle(open_wallet("acc-1"))
    await _deposits(sql_store, "acc-1", [f"p{n}" for n in range(9)])
    positions = await stored_positions(sql_store)
    projection = FlakyProjection(positions[5])  # the middle of the second batch of 4
    runner = ProjectionRunner(
        sql_store, [projection], batch_size=4, retry_backoff_s=0.01, max_backoff_s=0.05
    )
    async with runner:
        await runner.wait_for(positions[-1], timeout_s=10)
        (status,) = await runner.status()
    assert projection.attempts == 3
    assert_each_once(await FLAKY_LOG.counts(runner.store), positions)
    assert status.state == "live"
    assert status.error is None
    stored = await runner.store.committed.checkpoints.get(projection.name)
    assert (stored.position, stored.error, stored.error_count) == (positions[-1], None, 0)


async def test_two_runners_of_one_projection_apply_each_event_once(
    sql_store: EventStoreBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """Two runners at once, as two worker processes without leases (or two holders in the
    moment before one sees it lost its lease): every event applied exactly once."""
    caplog.set_level(logging.INFO, logger="eskit.projections")
    wallets = [f"acc-{n}" for n in range(6)]
    handler = build_handler(sql_store)
    async with reopen(sql_store) as other_store:
        first = ProjectionRunner(
            sql_store,
            [AppliedLogProjection(), WalletsById()],
            batch_size=5,
            poll_interval_s=0.02,
            leases=False,
        )
        second = ProjectionRunner(
            other_store,
            [AppliedLogProjection(), WalletsById()],
            batch_size=5,
            poll_interval_s=0.02,
            leases=False,
        )
        async with first, second:
            for wallet_id in wallets:
                await handler.handle(open_wallet(wallet_id))

            async def write(number: int) -> None:
                # half the writers append through the other store object
                mine = build_handler(sql_store if number % 2 else other_store)
                for n in range(30):
                    wallet_id = wallets[(number + n) % len(wallets)]
                    kind = Deposit if n % 3 else Withdraw
                    command = kind(aggregate_id=wallet_id, amount=7, payment_id=f"{number}-{n}")
                    with contextlib.suppress(InsufficientFundsError):
                        await handle_with_retries(mine, command)
                    await asyncio.sleep(0.001)

            await asyncio.gather(*(write(n) for n in range(4)))
            head = await committed_head(sql_store)
            await first.wait_for(head, timeout_s=30)
            await second.wait_for(head, timeout_s=30)

    positions = await stored_positions(sql_store)
    assert_each_once(await AppliedLogProjection.applied.counts(first.store), positions)
    name = AppliedLogProjection.name
    handled = first.worker(name).events_handled + second.worker(name).events_handled
    assert handled == len(positions)  # a batch that lost the race counted for nothing
    assert await wallet_documents(first.store) == await fold_wallets(sql_store)
    moved = [r for r in caplog.records if "checkpoint moved elsewhere" in r.getMessage()]
    assert moved, "the runners never raced for a checkpoint"
    stored = await first.store.committed.checkpoints.get(name)
    assert stored.position == head
