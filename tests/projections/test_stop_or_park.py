"""A projection's failure policy on both backends: ``stop`` holds at a poison event, ``park``
moves it to the dead letters after its attempts and goes on; an event parked by another
store object while a projection waits to retry lets it go on within about ``PARK_CHECK_S``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from eskit.projections import FailurePolicy, ProjectionRunner, Subscription
from eskit.projections.dead_letters import dead_letters, park
from eskit.projections.runner import PARK_CHECK_S
from eskit.store import EventStoreBackend, StoredEvent, require_transactions
from tests.projections.support import (
    AppliedLog,
    RecordingProjection,
    assert_each_once,
    eventually,
    open_wallet,
    reopen,
    stored_positions,
)
from tests.wallets.domain import Deposit, Deposited, build_handler

pytestmark = pytest.mark.integration

STOPPING_LOG = AppliedLog("test_stopping_applied")
PARKING_LOG = AppliedLog("test_parking_applied")


class RefusesPoison(RecordingProjection):
    """Refuses the deposit whose payment id is ``poison``, every time, and counts it."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 0

    def check(self, record: StoredEvent) -> None:
        """Raise on the poison event."""
        if record.data.get("payment_id") == "poison":
            self.refusals += 1
            raise OverflowError("the test refuses poison payments")


class StoppingView(RefusesPoison):
    name = "test_stopping"
    applied = STOPPING_LOG
    read_models = (STOPPING_LOG,)


class ParkingView(RefusesPoison):
    name = "test_parking"
    applied = PARKING_LOG
    read_models = (PARKING_LOG,)
    on_failure = FailurePolicy.park(after=3)


async def _wallet_with_poison(store: EventStoreBackend) -> int:
    """A wallet, four deposits, the poison deposit, three more; the poison's position (in
    the middle of a batch of four)."""
    handler = build_handler(store)
    await handler.handle(open_wallet("w-1"))
    for payment_id in ["a1", "a2", "a3", "a4", "poison", "b1", "b2", "b3"]:
        await handler.handle(Deposit(aggregate_id="w-1", amount=5, payment_id=payment_id))
    async for record in store.read_all(event_types=[Deposited.event_type]):
        if record.data["payment_id"] == "poison":
            return record.position
    raise AssertionError("no poison event stored")


def _fast(store: EventStoreBackend, *projections: object, **options: float) -> ProjectionRunner:
    settings = {"retry_backoff_s": 0.01, "max_backoff_s": 0.02, **options}
    return ProjectionRunner(store, list(projections), batch_size=4, **settings)  # type: ignore[arg-type]


async def test_stop_holds_at_the_poison_event_and_parks_nothing(
    sql_store: EventStoreBackend,
) -> None:
    poison = await _wallet_with_poison(sql_store)
    positions = await stored_positions(sql_store)
    projection = StoppingView()
    async with _fast(sql_store, projection) as runner:

        async def retried_past_any_park_policy() -> bool:
            return projection.refusals >= 6

        await eventually(retried_past_any_park_policy, what="six attempts at the poison event")
        (status,) = await runner.status()
    assert (status.state, status.healthy, status.policy) == ("failing", False, "stop")
    assert (status.error_position, status.parked) == (poison, 0)
    assert status.error is not None
    assert "OverflowError" in status.error
    assert await dead_letters(require_transactions(sql_store, "test")) == []
    assert_each_once(await STOPPING_LOG.counts(runner.store), [p for p in positions if p < poison])


async def test_park_moves_the_poison_event_aside_after_its_attempts_and_goes_on(
    sql_store: EventStoreBackend,
) -> None:
    poison = await _wallet_with_poison(sql_store)
    positions = await stored_positions(sql_store)
    projection = ParkingView()
    async with _fast(sql_store, projection) as runner:
        await runner.wait_for(positions[-1], timeout_s=10)
        (status,) = await runner.status()
    assert projection.refusals == 3
    assert (status.state, status.healthy) == ("live", True)
    assert (status.policy, status.parked, status.error) == ("park after 3", 1, None)
    (letter,) = await dead_letters(require_transactions(sql_store, "test"), "test_parking")
    assert (letter.position, letter.stream_id) == (poison, "w-1")
    assert letter.event_type == Deposited.event_type
    assert "OverflowError: the test refuses poison payments" in letter.error
    assert "after 3 attempts" in letter.error
    assert_each_once(await PARKING_LOG.counts(runner.store), [p for p in positions if p != poison])


async def test_a_parked_event_stays_parked_for_a_runner_started_later(
    sql_store: EventStoreBackend,
) -> None:
    await _wallet_with_poison(sql_store)
    positions = await stored_positions(sql_store)
    async with _fast(sql_store, ParkingView()) as runner:
        await runner.wait_for(positions[-1], timeout_s=10)
    later = ParkingView()
    async with reopen(sql_store) as other, _fast(other, later) as again:
        (status,) = await again.status()
    assert (status.state, status.parked, later.refusals) == ("live", 1, 0)


async def test_an_event_parked_elsewhere_during_a_long_backoff_is_seen_within_a_second(
    sql_store: EventStoreBackend,
) -> None:
    """A stop-policy projection waiting 30 s to retry goes on as soon as the event is parked
    through another store object (as ``eskit projections park`` in another process does)."""
    poison = await _wallet_with_poison(sql_store)
    positions = await stored_positions(sql_store)
    projection = StoppingView()
    runner = _fast(sql_store, projection, retry_backoff_s=30.0, max_backoff_s=30.0)
    async with runner:

        async def failing() -> bool:
            return (await runner.status())[0].state == "failing"

        await eventually(failing, what="the projection to report its failure")
        async with reopen(sql_store) as other:
            await park(require_transactions(other, "test"), "test_stopping")
        parked_at = time.monotonic()
        await runner.wait_for(positions[-1], timeout_s=5)
        took_s = time.monotonic() - parked_at
    assert took_s < PARK_CHECK_S + 0.75, f"the park took {took_s:.2f} s to take effect"
    assert projection.refusals == 1
    assert_each_once(await STOPPING_LOG.counts(runner.store), [p for p in positions if p != poison])


async def test_a_subscription_under_park_parks_the_event_it_refuses_not_its_batch(
    sql_store: EventStoreBackend,
) -> None:
    poison = await _wallet_with_poison(sql_store)
    positions = await stored_positions(sql_store)
    delivered: list[int] = []

    async def relay(batch: Sequence[StoredEvent]) -> None:
        if any(record.position == poison for record in batch):
            raise ConnectionRefusedError("the broker refuses this one")
        delivered.extend(record.position for record in batch)

    subscription = Subscription(
        "test_relay", relay, stream_types=["Wallet"], on_failure=FailurePolicy.park(after=2)
    )
    async with _fast(sql_store, subscription) as runner:
        await runner.wait_for(positions[-1], timeout_s=10)
        (status,) = await runner.status()
    assert sorted(set(delivered)) == [p for p in positions if p != poison]
    (letter,) = await dead_letters(require_transactions(sql_store, "test"), "test_relay")
    assert letter.position == poison
    assert (status.parked, status.state) == (1, "live")
