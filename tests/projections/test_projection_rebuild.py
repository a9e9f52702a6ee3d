"""Rebuilding WalletsById while it is queried, written and kept live by a runner.

A few thousand events are stored; a started runner keeps the live documents; a writer keeps
appending while the rebuild replays the log in batches of 100; three tasks query
``WALLETS.get`` and ``WALLETS.count`` in a loop from before the rebuild until after the
swap. Every query must answer (no exception, never None for a wallet that existed before
the rebuild began, a count never below theirs); the progress callback sees increasing
counts; once the runner caught up, the documents equal the fold of the log, and no shadow
table or shadow checkpoint is left behind.

The writer keeps writing through the swap: the swap finishes the catch-up under lock, so a
steady stream of writes cannot keep a rebuild from ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

import pytest

from eskit.projections import ProjectionRunner
from eskit.projections.readmodel import SHADOW_SUFFIX
from eskit.projections.rebuild import rebuild
from eskit.store import EventStoreBackend, TransactionalStore
from tests.projections.support import (
    committed_head,
    fold_wallets,
    handle_with_retries,
    open_wallet,
    wallet_documents,
)
from tests.wallets.domain import (
    Deposit,
    InsufficientFundsError,
    RenameOwner,
    Wallet,
    Withdraw,
    build_handler,
)
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration

WALLET_COUNT = 30
EVENTS_PER_WALLET = 100
BATCH = 100
SEEDED_EVENTS = WALLET_COUNT * EVENTS_PER_WALLET


async def _seed(store: EventStoreBackend) -> list[str]:
    """WALLET_COUNT wallets of EVENTS_PER_WALLET events each, one append per wallet."""
    repository = build_handler(store).repository
    ids = [f"acc-{n:02d}" for n in range(WALLET_COUNT)]
    for wallet_id in ids:
        wallet = Wallet.open(wallet_id, owner="Ada Lovelace", balance=50)
        for k in range(EVENTS_PER_WALLET - 1):
            if k % 10 == 9:
                wallet.rename(f"Ada {k}")
            elif k % 3 == 2:
                wallet.withdraw(1, f"seed-{k}")
            else:
                wallet.deposit(1 + k % 5, f"seed-{k}")
        await repository.save(wallet)
    return ids


async def _table_exists(db: TransactionalStore, table: str) -> bool:
    return await db.committed.schema.exists(table)


@dataclass
class Queries:
    """What the querying tasks saw."""

    answered: int = 0
    failures: list[str] = field(default_factory=list)


async def _query(
    db: TransactionalStore, ids: list[str], stop: asyncio.Event, seen: Queries
) -> None:
    rng = random.Random(len(seen.failures))
    while not stop.is_set():
        for wallet_id in rng.sample(ids, len(ids)):
            try:
                doc = await WALLETS.get(db, wallet_id)
            except Exception as exc:
                seen.failures.append(f"get({wallet_id}) raised {type(exc).__name__}: {exc}")
                continue
            if doc is None:
                seen.failures.append(f"get({wallet_id}) found no document")
            seen.answered += 1
        try:
            count = await WALLETS.count(db)
        except Exception as exc:
            seen.failures.append(f"count() raised {type(exc).__name__}: {exc}")
        else:
            if count < len(ids):
                seen.failures.append(f"count() was {count} < {len(ids)}")
            seen.answered += 1


async def _write(store: EventStoreBackend, ids: list[str], stop: asyncio.Event) -> int:
    handler = build_handler(store)
    rng = random.Random(7)
    written = 0
    while not stop.is_set():
        wallet_id = rng.choice(ids)
        roll = rng.random()
        if roll < 0.1:
            wallet_id = f"new-{written}"
            await handler.handle(open_wallet(wallet_id))
            ids.append(wallet_id)
        elif roll < 0.2:
            await handle_with_retries(
                handler, RenameOwner(aggregate_id=wallet_id, owner=f"w{written}")
            )
        else:
            kind = Deposit if roll < 0.6 else Withdraw
            command = kind(
                aggregate_id=wallet_id, amount=rng.randint(1, 20), payment_id=f"w{written}"
            )
            with contextlib.suppress(InsufficientFundsError):
                await handle_with_retries(handler, command)
        written += 1
        await asyncio.sleep(0.002)  # a steady trickle, not a flood
    return written


async def test_rebuild_while_queried_written_and_live(sql_store: EventStoreBackend) -> None:
    """Queries always answer during a rebuild; afterwards the documents equal the fold."""
    ids = await _seed(sql_store)
    seeded = await sql_store.last_position()
    runner = ProjectionRunner(sql_store, [WalletsById()], batch_size=BATCH)
    calls: list[tuple[int, int]] = []
    async with runner:
        await runner.wait_for(seeded, timeout_s=30)
        assert await WALLETS.count(runner.store) == WALLET_COUNT

        stop_queries, stop_writes = asyncio.Event(), asyncio.Event()
        seen = Queries()
        queries = [
            asyncio.create_task(_query(runner.store, list(ids), stop_queries, seen))
            for _ in range(3)
        ]
        writer = asyncio.create_task(_write(sql_store, list(ids), stop_writes))
        try:
            answered_before = seen.answered

            def progress(done: int, total: int) -> None:
                calls.append((done, total))

            result = await asyncio.wait_for(
                rebuild(sql_store, WalletsById(), batch_size=BATCH, progress=progress), 60
            )
            answered_during = seen.answered - answered_before
            stop_writes.set()
            written = await writer
            head = await committed_head(sql_store)
            await runner.wait_for(head, timeout_s=30)
        finally:
            stop_writes.set()
            stop_queries.set()
            await asyncio.gather(writer, *queries, return_exceptions=True)
        for task in queries:
            task.result()  # the loops themselves never raised

    assert seen.failures == []
    assert answered_during > 0, "no query ran while the rebuild did"
    assert written > 0
    assert result.events > SEEDED_EVENTS  # the rebuild replayed events written meanwhile

    # the rebuild went through every seeded event, in batches, reporting increasing counts
    assert result.events >= SEEDED_EVENTS
    assert len(calls) >= SEEDED_EVENTS // BATCH
    dones = [done for done, _ in calls]
    assert dones == sorted(set(dones)), "progress counts must strictly increase"
    assert all(total >= done for done, total in calls)
    assert calls[0][1] >= SEEDED_EVENTS
    assert dones[-1] == result.events
    assert seeded <= result.position <= head

    # swapped in and caught up: the documents are the fold of the log
    assert await wallet_documents(runner.store) == await fold_wallets(sql_store)
    stored = await runner.store.committed.checkpoints.all()
    assert stored[WalletsById.name].position == head
    assert WalletsById.name + SHADOW_SUFFIX not in stored
    assert not await _table_exists(runner.store, WALLETS.name + SHADOW_SUFFIX)
    assert await _table_exists(runner.store, WALLETS.name)
