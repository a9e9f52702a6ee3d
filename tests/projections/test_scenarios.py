"""The testing helpers for projections: given/then and deterministic waiting."""

from __future__ import annotations

import pytest

from bank_accounts.domain import MoneyDeposited
from bank_accounts.projections import ACCOUNTS, AccountsById
from eskit.errors import NotCaughtUpError
from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from eskit.testing import ProjectionScenario, wait_until_processed
from tests.projections.support import opened_event


async def test_given_then() -> None:
    async with ProjectionScenario(AccountsById(), stream_type="BankAccount") as scenario:
        await scenario.given(
            "acc-1",
            opened_event(balance=100),
            MoneyDeposited(amount=50, currency="USD", payment_id="p"),
        )
        doc = await ACCOUNTS.get(scenario.store, "acc-1")
        assert doc is not None
        assert doc.body["balance"] == 150


async def test_given_raises_the_handlers_error() -> None:
    async with ProjectionScenario(AccountsById(), stream_type="BankAccount") as scenario:
        with pytest.raises(Exception, match="has no bank_accounts_by_id entry"):
            await scenario.given("ghost", MoneyDeposited(amount=1, currency="USD", payment_id="p"))


async def test_wait_until_processed_by_another_runner(sql_store: EventStoreBackend) -> None:
    async with ProjectionRunner(sql_store, [AccountsById()]) as runner:
        result = await sql_store.append(
            "acc-2", [opened_event(balance=100)], expected_version=0, stream_type="BankAccount"
        )
        await wait_until_processed(runner.store, "bank_accounts_by_id", result.position)
        await wait_until_processed(runner, "bank_accounts_by_id", result.position)
        with pytest.raises(NotCaughtUpError, match="bank_accounts_by_id"):
            await wait_until_processed(
                runner.store, "bank_accounts_by_id", result.position + 10**9, timeout_s=0.2
            )
