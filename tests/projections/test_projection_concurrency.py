"""Sixteen concurrent writers and a live runner: no event is missed, none is applied twice.

Each writer task works on wallets of its own and on four shared wallets (whose commands
conflict and are retried with the same command id). A started ProjectionRunner follows the
log meanwhile, in small batches. At the end the runner is waited for up to the head, and:

* every WalletsById document equals the fold of its stream, and its version is the
  stream's version;
* the applied-events log (one row per handled event, no unique key) holds every
  wallet position exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from eskit.domain import Command
from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from tests.projections.support import (
    APPLIED,
    AppliedLogProjection,
    assert_each_once,
    committed_head,
    fold_wallets,
    handle_with_retries,
    open_wallet,
    stored_positions,
    wallet_documents,
)
from tests.wallets.domain import (
    Deposit,
    InsufficientFundsError,
    RenameOwner,
    Withdraw,
    build_handler,
)
from tests.wallets.projections import WalletsById

pytestmark = pytest.mark.integration

WRITERS = 16
COMMANDS_PER_WRITER = 25
SHARED = [f"shared-{n}" for n in range(4)]


async def _writer(store: EventStoreBackend, number: int) -> int:
    """Open two wallets, then run random commands on them and on the shared ones."""
    rng = random.Random(number)
    handler = build_handler(store)
    own = [f"w{number}-a{n}" for n in range(2)]
    for wallet_id in own:
        await handler.handle(open_wallet(wallet_id, balance=rng.randint(0, 100)))
    done = len(own)
    for n in range(COMMANDS_PER_WRITER):
        wallet_id = rng.choice(own + SHARED)
        roll = rng.random()
        command: Command
        if roll < 0.45:
            command = Deposit(
                aggregate_id=wallet_id, amount=rng.randint(1, 50), payment_id=f"w{number}-{n}"
            )
        elif roll < 0.9:
            command = Withdraw(
                aggregate_id=wallet_id, amount=rng.randint(1, 80), payment_id=f"w{number}-{n}"
            )
        else:
            command = RenameOwner(aggregate_id=wallet_id, owner=f"w{number}-{n}")
        with contextlib.suppress(InsufficientFundsError):
            await handle_with_retries(handler, command)
        done += 1
        await asyncio.sleep(0)  # let the others (and the runner) interleave
    return done


async def test_concurrent_writers_every_event_applied_exactly_once(
    sql_store: EventStoreBackend,
) -> None:
    """16 writer tasks, a started runner; at the end each event was applied exactly once."""
    handler = build_handler(sql_store)
    for wallet_id in SHARED:
        await handler.handle(open_wallet(wallet_id, balance=500))
    runner = ProjectionRunner(
        sql_store, [WalletsById(), AppliedLogProjection()], batch_size=7, poll_interval_s=0.05
    )
    async with runner:
        counts = await asyncio.gather(*(_writer(sql_store, n) for n in range(WRITERS)))
        assert sum(counts) == WRITERS * (COMMANDS_PER_WRITER + 2)
        head = await committed_head(sql_store)
        await runner.wait_for(head, timeout_s=30)
        statuses = {s.name: s for s in await runner.status()}

    positions = await stored_positions(sql_store)
    assert len(positions) > WRITERS * COMMANDS_PER_WRITER // 2  # most commands recorded events
    assert positions[-1] == head
    assert_each_once(await APPLIED.counts(runner.store), positions)

    folded = await fold_wallets(sql_store)
    assert set(folded) == set(SHARED) | {f"w{w}-a{a}" for w in range(WRITERS) for a in range(2)}
    assert await wallet_documents(runner.store) == folded
    for wallet_id, view in folded.items():
        assert view.version == await sql_store.stream_version(wallet_id)
        assert view.balance >= 0

    for name in (WalletsById.name, AppliedLogProjection.name):
        assert statuses[name].position == head
        assert statuses[name].lag_events == 0
        assert statuses[name].error is None
        assert runner.worker(name).events_handled == len(positions)
