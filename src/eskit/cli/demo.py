"""``eskit demo``: a small bank-account workload on whatever store is configured."""

from __future__ import annotations

import random
import time

from rich.console import Console
from rich.table import Table

from eskit.errors import DomainError
from eskit.store import EventStoreBackend


async def run_demo(
    store: EventStoreBackend,
    console: Console,
    *,
    accounts: int,
    operations: int,
    seed: int,
    snapshot_every: int | None = None,
) -> None:
    """Open ``accounts`` accounts and run ``operations`` random payments against them."""
    from bank_accounts import DepositMoney, OpenAccount, WithdrawMoney, build_handler

    handler = build_handler(store, snapshot_every=snapshot_every)
    rng = random.Random(seed)
    started = time.perf_counter()
    ids = []
    for n in range(accounts):
        opened = await handler.handle(
            OpenAccount(
                email=f"holder{n}@example.com",
                address=f"{n} Main Street",
                first_name="Holder",
                last_name=f"No. {n}",
                balance=rng.randrange(0, 10_000),
            )
        )
        ids.append(opened.aggregate_id)
    refused = 0
    for n in range(operations):
        account_id = rng.choice(ids)
        amount = rng.randrange(1, 5_000)
        command = (
            DepositMoney(aggregate_id=account_id, amount=amount, payment_id=f"demo-{seed}-{n}")
            if rng.random() < 0.6
            else WithdrawMoney(
                aggregate_id=account_id, amount=amount, payment_id=f"demo-{seed}-{n}"
            )
        )
        try:
            await handler.handle(command)
        except DomainError as exc:
            refused += 1
            console.print(f"[yellow]refused[/yellow] {type(command).__name__}: {exc}")
    elapsed = time.perf_counter() - started

    table = Table("account", "holder", "balance", "version", title="balances (minor units)")
    for account_id in ids:
        account = await handler.repository.load(account_id)
        table.add_row(
            account_id,
            f"{account.first_name} {account.last_name}",
            f"{account.balance:,} {account.currency}",
            str(account.version),
        )
    console.print(table)
    console.print(
        f"{accounts} accounts, {operations} payments ({refused} refused) in {elapsed:.2f} s; "
        f"the log now ends at position {await store.last_position()}"
    )
    await _show_read_side(store, console)


async def _show_read_side(store: EventStoreBackend, console: Console) -> None:
    """Bring the read models up to date and query them: the richest accounts, by search."""
    from bank_accounts.projections import ACCOUNT_SEARCH, projections
    from eskit.projections import ProjectionRunner
    from eskit.store import has_transactions

    if not has_transactions(store):
        return  # read models live in a SQL store's database, not in memory
    started = time.perf_counter()
    async with ProjectionRunner(store, projections()) as runner:
        await runner.wait_for(await store.last_position(), timeout_s=60)
        page = await ACCOUNT_SEARCH.search(
            store, "holder", sort="balance", descending=True, limit=5
        )
    table = Table("account", "holder", "balance", title="richest accounts (search read model)")
    for entry in page.items:
        table.add_row(
            entry["account_id"], entry["name"], f"{entry['balance']:,} {entry['currency']}"
        )
    console.print(table)
    console.print(
        f"read models caught up in {time.perf_counter() - started:.2f} s "
        f"({page.total} accounts match 'holder')"
    )
