"""The projection runner on both backends: exactly once, in order, resumable, observable."""

from __future__ import annotations

import asyncio

import pytest

from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend, require_transactions
from tests.projections.support import committed_head, open_wallet
from tests.wallets.domain import Deposit, Withdraw, build_handler
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


async def test_documents_follow_commands(sql_store: EventStoreBackend) -> None:
    handler = build_handler(sql_store)
    async with ProjectionRunner(sql_store, [WalletsById()]) as runner:
        await handler.handle(open_wallet("acc-1"))
        await handler.handle(Deposit(aggregate_id="acc-1", amount=50, payment_id="p1"))
        result = await handler.handle(Withdraw(aggregate_id="acc-1", amount=30, payment_id="p2"))
        await runner.wait_for(result.position, timeout_s=5)
        doc = await WALLETS.get(runner.store, "acc-1")
        assert doc is not None
        assert doc.body["balance"] == 120
        assert doc.body["version"] == 3


async def test_restart_resumes_at_checkpoint(sql_store: EventStoreBackend) -> None:
    handler = build_handler(sql_store)
    for i in range(5):
        await handler.handle(open_wallet(f"acc-{i}"))
    runner = ProjectionRunner(sql_store, [WalletsById()])
    await runner.start()
    head = await committed_head(sql_store)
    await runner.wait_for(head)
    await runner.stop()
    for i in range(5):
        await handler.handle(Deposit(aggregate_id=f"acc-{i}", amount=1, payment_id="x"))
    await runner.start()
    await runner.wait_for(await committed_head(sql_store))
    await runner.stop()
    await runner.stop()
    docs = await WALLETS.all(require_transactions(sql_store, "tests"))
    assert {k: v["balance"] for k, v in docs.items()} == {f"acc-{i}": 101 for i in range(5)}
    statuses = await runner.status()
    assert statuses[0].state == "live"
    assert statuses[0].lag_events == 0


async def test_wakes_without_polling(sql_store: EventStoreBackend) -> None:
    handler = build_handler(sql_store)
    async with ProjectionRunner(sql_store, [WalletsById()], poll_interval_s=30) as runner:
        await asyncio.sleep(0.05)
        result = await handler.handle(open_wallet("acc-x"))
        await runner.wait_for(result.position, timeout_s=2)
