"""Property: whatever commands ran, the AccountsById documents equal the fold of the log.

Hypothesis draws a few accounts and a sequence of deposits, withdrawals (some refused for
insufficient funds), e-mail changes, repeated or conflicting payment ids, and catch-up
points; the projection's batch size is drawn too, so batches end anywhere. At each catch-up
point and at the end, every document must equal both the fold of the stored events and the
aggregate the repository loads: balance, e-mail and version. Each example runs on a fresh
database of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bank_accounts.app import build_handler
from bank_accounts.commands import ChangeEmail, DepositMoney, WithdrawMoney
from bank_accounts.domain import InsufficientFundsError, PaymentConflictError
from bank_accounts.projections import AccountsById
from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from tests.projections.support import (
    AccountView,
    FreshStores,
    account_documents,
    committed_head,
    fold_accounts,
    open_account,
)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Op:
    """One step: a command on account ``account`` (an index), or a catch-up point."""

    kind: str
    account: int = 0
    amount: int = 0
    payment: int = 0


ops = st.one_of(
    st.builds(
        Op,
        kind=st.sampled_from(["deposit", "withdraw"]),
        account=st.integers(0, 3),
        amount=st.integers(1, 300),
        payment=st.integers(0, 12),  # a small pool: repeats and conflicts happen
    ),
    st.builds(Op, kind=st.just("email"), account=st.integers(0, 3), payment=st.integers(0, 3)),
    st.just(Op("catch_up")),
)


async def _check(store: EventStoreBackend, runner: ProjectionRunner) -> None:
    """Catch up, then documents == fold of the log == what the repository loads."""
    await runner.catch_up()
    folded = await fold_accounts(store)
    assert await account_documents(runner.store) == folded
    repository = build_handler(store).repository
    for account_id, view in folded.items():
        account = await repository.load(account_id)
        assert AccountView(account.balance, account.email, account.version) == view
        assert account.balance >= 0
    checkpoint = await runner.store.committed.checkpoints.get(AccountsById.name)
    assert checkpoint.position == await committed_head(store)
    assert checkpoint.error is None


async def _scenario(
    fresh: FreshStores, openings: list[int], steps: list[Op], batch_size: int
) -> None:
    async with fresh.store() as store:
        handler = build_handler(store)
        runner = ProjectionRunner(store, [AccountsById()], batch_size=batch_size)
        await runner.prepare()
        ids = [f"acc-{n}" for n in range(len(openings))]
        for account_id, balance in zip(ids, openings, strict=True):
            await handler.handle(open_account(account_id, balance=balance))
        for step in steps:
            account_id = ids[step.account % len(ids)]
            if step.kind == "catch_up":
                await _check(store, runner)
            elif step.kind == "email":
                await handler.handle(
                    ChangeEmail(aggregate_id=account_id, email=f"new{step.payment}@example.com")
                )
            else:
                kind = DepositMoney if step.kind == "deposit" else WithdrawMoney
                with contextlib.suppress(InsufficientFundsError, PaymentConflictError):
                    await handler.handle(
                        kind(
                            aggregate_id=account_id,
                            amount=step.amount,
                            payment_id=f"p{step.payment}",
                        )
                    )
        await _check(store, runner)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    openings=st.lists(st.integers(0, 200), min_size=1, max_size=4),
    steps=st.lists(ops, max_size=40),
    batch_size=st.integers(1, 8),
)
def test_documents_equal_the_fold_of_the_log(
    fresh_stores: FreshStores, openings: list[int], steps: list[Op], batch_size: int
) -> None:
    """For any command sequence, caught-up documents equal the fold of the stored events."""
    asyncio.run(_scenario(fresh_stores, openings, steps, batch_size))
