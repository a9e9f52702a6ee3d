"""The testing helpers for projections: given/then and deterministic waiting."""

from __future__ import annotations

import pytest

from eskit.errors import NotCaughtUpError
from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from eskit.testing import ProjectionScenario, wait_until_processed
from tests.projections.support import opened_event
from tests.wallets.domain import Deposited
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


async def test_given_then() -> None:
    async with ProjectionScenario(WalletsById(), stream_type="Wallet") as scenario:
        await scenario.given(
            "acc-1",
            opened_event(balance=100),
            Deposited(amount=50, payment_id="p"),
        )
        doc = await WALLETS.get(scenario.store, "acc-1")
        assert doc is not None
        assert doc.body["balance"] == 150


async def test_given_raises_the_handlers_error() -> None:
    async with ProjectionScenario(WalletsById(), stream_type="Wallet") as scenario:
        with pytest.raises(Exception, match="has no wallets_by_id entry"):
            await scenario.given("ghost", Deposited(amount=1, payment_id="p"))


async def test_wait_until_processed_by_another_runner(sql_store: EventStoreBackend) -> None:
    async with ProjectionRunner(sql_store, [WalletsById()]) as runner:
        result = await sql_store.append(
            "acc-2", [opened_event(balance=100)], expected_version=0, stream_type="Wallet"
        )
        await wait_until_processed(runner.store, "wallets_by_id", result.position)
        await wait_until_processed(runner, "wallets_by_id", result.position)
        with pytest.raises(NotCaughtUpError, match="wallets_by_id"):
            await wait_until_processed(
                runner.store, "wallets_by_id", result.position + 10**9, timeout_s=0.2
            )
