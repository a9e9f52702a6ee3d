"""Property: whatever commands ran, the WalletsById documents equal the fold of the log.

Hypothesis draws a few wallets and a sequence of deposits, withdrawals (some refused for
insufficient funds), renamed owners, repeated or conflicting payment ids, and catch-up
points; the projection's batch size is drawn too, so batches end anywhere. At each catch-up
point and at the end, every document must equal both the fold of the stored events and the
aggregate the repository loads: balance, owner and version. Each example runs on a fresh
database of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from tests.projections.support import (
    FreshStores,
    WalletView,
    committed_head,
    fold_wallets,
    open_wallet,
    wallet_documents,
)
from tests.wallets.domain import (
    Deposit,
    InsufficientFundsError,
    PaymentConflictError,
    RenameOwner,
    Withdraw,
    build_handler,
)
from tests.wallets.projections import WalletsById

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Op:
    """One step: a command on wallet ``wallet`` (an index), or a catch-up point."""

    kind: str
    wallet: int = 0
    amount: int = 0
    payment: int = 0


ops = st.one_of(
    st.builds(
        Op,
        kind=st.sampled_from(["deposit", "withdraw"]),
        wallet=st.integers(0, 3),
        amount=st.integers(1, 300),
        payment=st.integers(0, 12),  # a small pool: repeats and conflicts happen
    ),
    st.builds(Op, kind=st.just("rename"), wallet=st.integers(0, 3), payment=st.integers(0, 3)),
    st.just(Op("catch_up")),
)


async def _check(store: EventStoreBackend, runner: ProjectionRunner) -> None:
    """Catch up, then documents == fold of the log == what the repository loads."""
    await runner.catch_up()
    folded = await fold_wallets(store)
    assert await wallet_documents(runner.store) == folded
    repository = build_handler(store).repository
    for wallet_id, view in folded.items():
        wallet = await repository.load(wallet_id)
        assert WalletView(wallet.balance, wallet.owner, wallet.version) == view
        assert wallet.balance >= 0
    checkpoint = await runner.store.committed.checkpoints.get(WalletsById.name)
    assert checkpoint.position == await committed_head(store)
    assert checkpoint.error is None


async def _scenario(
    fresh: FreshStores, openings: list[int], steps: list[Op], batch_size: int
) -> None:
    async with fresh.store() as store:
        handler = build_handler(store)
        runner = ProjectionRunner(store, [WalletsById()], batch_size=batch_size)
        await runner.prepare()
        ids = [f"acc-{n}" for n in range(len(openings))]
        for wallet_id, balance in zip(ids, openings, strict=True):
            await handler.handle(open_wallet(wallet_id, balance=balance))
        for step in steps:
            wallet_id = ids[step.wallet % len(ids)]
            if step.kind == "catch_up":
                await _check(store, runner)
            elif step.kind == "rename":
                await handler.handle(
                    RenameOwner(aggregate_id=wallet_id, owner=f"new{step.payment}")
                )
            else:
                kind = Deposit if step.kind == "deposit" else Withdraw
                with contextlib.suppress(InsufficientFundsError, PaymentConflictError):
                    await handler.handle(
                        kind(
                            aggregate_id=wallet_id,
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
