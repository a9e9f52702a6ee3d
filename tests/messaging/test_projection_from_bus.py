"""A projection run behind a consumer builds the same read model as from the store's log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from eskit.messaging import Bus
from eskit.messaging.consumer import ConsumerRunner
from eskit.messaging.projected import projection_consumer
from eskit.messaging.relay import Relay
from eskit.projections import ProjectionRunner
from eskit.store import (
    ANY,
    EventStoreBackend,
    SQLiteEventStore,
    require_transactions,
)
from tests.messaging.support import eventually
from tests.wallets.domain import Deposited, OwnerRenamed, WalletOpened, Withdrawn
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


def history() -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    for w in range(6):
        wallet = f"wallet-{w}"
        events.append((wallet, WalletOpened(owner=f"Owner {w}", balance=100 * w)))
        events += [(wallet, Deposited(amount=10 + n, payment_id=f"d{w}-{n}")) for n in range(4)]
        events.append((wallet, Withdrawn(amount=5, payment_id=f"w{w}")))
        events.append((wallet, OwnerRenamed(owner=f"Renamed {w}")))
    return events


async def record(store: EventStoreBackend) -> None:
    for wallet, event in history():
        await store.append(wallet, [event], expected_version=ANY, stream_type="Wallet")  # type: ignore[list-item]


async def test_a_projection_behind_a_consumer_equals_the_same_projection_on_the_log(
    sql_store: EventStoreBackend, bus: Bus, tmp_path: Path
) -> None:
    store = require_transactions(sql_store, "a projection fed from the bus")
    await record(store)
    relay = Relay(store, bus)
    while await relay.step():
        pass

    runner = ConsumerRunner(store, bus, projection_consumer(WalletsById()))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:

        async def all_applied() -> bool:
            return runner.handled >= len(history())

        await eventually(all_applied)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    from_bus = await WALLETS.all(store)

    async with SQLiteEventStore.open(tmp_path / "fresh.db") as fresh:
        await record(fresh)
        log_runner = ProjectionRunner(fresh, [WalletsById()], listen=False)
        await log_runner.prepare()
        await log_runner.catch_up()
        from_log = await WALLETS.all(fresh)

    assert from_bus == from_log
    assert len(from_bus) == 6


async def test_a_projection_of_every_stream_type_must_name_what_it_reads() -> None:
    class Everything(WalletsById):
        stream_types = None

    with pytest.raises(ValueError, match="name the stream types"):
        projection_consumer(Everything())
