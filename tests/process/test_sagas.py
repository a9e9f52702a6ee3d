"""Sagas: forward steps, compensation, deadlines that survive restarts and fire once, and
state that commits with the commands it issues."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from eskit.errors import ConfigurationError
from eskit.process import ManualClock, QueueWorker, SagaInstance, on
from eskit.projections.projection import HandlerFailedError
from eskit.projections.rebuild import rebuild
from eskit.projections.runner import ProjectionRunner
from eskit.store import EventStoreBackend, SQLiteEventStore, require_transactions
from eskit.testing.process import ProcessScenario
from tests.process.orders import (
    PAYMENT_WINDOW,
    ConfirmOrder,
    Fulfilment,
    FulfilmentState,
    OrderCancelled,
    OrderConfirmed,
    OrderPaid,
    OrderPlaced,
    PayOrder,
    StockReleased,
    StockReserved,
    build_dispatcher,
    place,
    stocked,
)

pytestmark = pytest.mark.integration


def scenario(store: EventStoreBackend, clock: ManualClock | None = None) -> ProcessScenario:
    return ProcessScenario(store, build_dispatcher(store), sagas=[Fulfilment()], clock=clock)


async def test_an_order_paid_in_time_is_confirmed_and_its_saga_completed(
    sql_store: EventStoreBackend,
) -> None:
    s = scenario(sql_store)
    await s.given(stocked(quantity=10))
    await s.when(place(quantity=2))
    await s.then("sku-1", StockReserved(order_id="order-1", quantity=2))
    await s.then_saga("order_fulfilment", "order-1", status="running", step="awaiting_payment")

    await s.when(PayOrder(aggregate_id="order-1"))

    await s.then("order-1", OrderPaid(), OrderConfirmed())
    await s.then_saga("order_fulfilment", "order-1", status="completed", step="done")


async def test_paying_cancels_the_payment_deadline(sql_store: EventStoreBackend) -> None:
    s = scenario(sql_store)
    await s.given(stocked(), place())
    await s.when(PayOrder(aggregate_id="order-1"))

    await s.advance(PAYMENT_WINDOW * 2)

    await s.then("order-1")  # no cancellation
    assert await s.commands("queued") == []


async def test_stock_refusing_the_reservation_cancels_the_order_and_compensates_the_saga(
    sql_store: EventStoreBackend,
) -> None:
    s = scenario(sql_store)
    await s.given(stocked(quantity=1))

    await s.when(place(quantity=5))

    await s.then(
        "order-1", OrderPlaced(sku="sku-1", quantity=5), OrderCancelled(reason="out_of_stock")
    )
    saga = await s.then_saga("order_fulfilment", "order-1", status="compensated", step="cancelled")
    assert saga.reason == "out_of_stock"


async def test_an_order_not_paid_by_its_deadline_is_cancelled_and_its_stock_released(
    sql_store: EventStoreBackend,
) -> None:
    s = scenario(sql_store)
    await s.given(stocked(quantity=10), place(quantity=3))

    await s.advance(PAYMENT_WINDOW - timedelta(seconds=1))
    await s.then("order-1")  # not yet due

    await s.advance(timedelta(seconds=2))

    await s.then("order-1", OrderCancelled(reason="not paid in time"))
    await s.then("sku-1", StockReleased(order_id="order-1", quantity=3))
    saga = await s.then_saga("order_fulfilment", "order-1", status="compensated")
    assert saga.reason == "not paid in time"


async def test_a_deadline_fires_once_however_far_the_clock_moves(
    sql_store: EventStoreBackend,
) -> None:
    s = scenario(sql_store)
    await s.given(stocked(), place())
    await s.advance(PAYMENT_WINDOW * 2)

    await s.advance(PAYMENT_WINDOW * 10)

    await s.then("order-1")
    fired = [c for c in await s.commands() if c.command_type == "CancelOrder"]
    assert [c.status for c in fired] == ["done"]


async def test_a_deadline_survives_a_restart_of_the_process(tmp_path: Path) -> None:
    clock = ManualClock()
    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        await scenario(store, clock).given(stocked(), place())

    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        s = scenario(store, clock)
        await s.advance(PAYMENT_WINDOW + timedelta(seconds=1))

        await s.then("order-1", OrderCancelled(reason="not paid in time"))


async def test_two_workers_racing_for_a_due_deadline_fire_it_once(
    sql_store: EventStoreBackend,
) -> None:
    clock = ManualClock()
    s = scenario(sql_store, clock)
    for n in range(20):
        await s.given(stocked(sku=f"sku-{n}"), place(sku=f"sku-{n}", order_id=f"order-{n}"))
    clock.advance(PAYMENT_WINDOW + timedelta(seconds=1))
    dispatcher = build_dispatcher(sql_store)
    workers = [QueueWorker(sql_store, dispatcher, clock=clock, batch_size=3) for _ in range(4)]

    await asyncio.gather(*(w.drain() for w in workers))

    assert sum(w.counters.done for w in workers) == 20
    for n in range(20):
        events = await sql_store.read_stream(f"order-{n}")
        assert [e.event_type for e in events] == ["orders.OrderPlaced", "orders.OrderCancelled"]


async def test_a_failing_step_commits_neither_the_state_nor_the_commands_it_issued(
    sql_store: EventStoreBackend,
) -> None:
    class Failing(Fulfilment):
        name = "failing_fulfilment"

        @on(OrderPaid)
        def paid(self, saga: SagaInstance[FulfilmentState], event: OrderPaid) -> None:
            saga.send(ConfirmOrder(aggregate_id=saga.correlation_id))
            saga.step = "half-way"
            raise RuntimeError("the step breaks after issuing a command")

    store = require_transactions(sql_store, "sagas")
    s = ProcessScenario(store, build_dispatcher(store), sagas=[Failing()])
    await s.given(stocked(), place())
    before = await store.committed.sagas.get("failing_fulfilment", ["order-1"])

    with pytest.raises(HandlerFailedError, match="the step breaks"):
        await s.when(PayOrder(aggregate_id="order-1"))

    assert await store.committed.sagas.get("failing_fulfilment", ["order-1"]) == before
    assert "ConfirmOrder" not in [c.command_type for c in await s.commands()]


async def test_a_saga_cannot_be_rebuilt(sql_store: EventStoreBackend) -> None:
    with pytest.raises(ConfigurationError, match="cannot be rebuilt"):
        await rebuild(sql_store, Fulfilment())


async def test_two_runners_of_one_saga_issue_each_command_once(
    sql_store: EventStoreBackend,
) -> None:
    store = require_transactions(sql_store, "sagas")
    dispatcher = build_dispatcher(store)
    for n in range(30):
        await dispatcher.handle(stocked(sku=f"sku-{n}"))
        await dispatcher.handle(place(sku=f"sku-{n}", order_id=f"order-{n}"))
    head = await store.last_position()
    runners = [ProjectionRunner(store, [Fulfilment()], batch_size=4) for _ in range(2)]

    for runner in runners:
        await runner.start()
    try:
        for runner in runners:
            await runner.wait_for(head, timeout_s=20)
    finally:
        for runner in runners:
            await runner.stop()

    queued = await store.committed.queue.list(limit=1000)
    assert sorted(c.command_type for c in queued) == ["CancelOrder"] * 30 + ["ReserveStock"] * 30
    sagas = await store.committed.sagas.list(saga="order_fulfilment", limit=100)
    assert len(sagas) == 30
    assert {s.version for s in sagas} == {1}
