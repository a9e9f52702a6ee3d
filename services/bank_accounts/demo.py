"""``python -m bank_accounts.demo`` (``make demo``): a small workload on the configured store.

Opens a few accounts, runs random deposits and withdrawals (some refused for insufficient
funds), prints the balances, then brings the read models up to date and searches them.
The store is ``ESKIT_DATABASE_URL`` (``./eskit.db`` by default) or ``--database-url``.
Amounts are stored in minor units; the demo prints them as money (``201.43 USD``).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Annotated

import iso4217
import typer
from rich.console import Console
from rich.table import Table

from bank_accounts.app import build_handler
from bank_accounts.commands import DepositMoney, OpenAccount, WithdrawMoney
from bank_accounts.domain import InsufficientFundsError
from bank_accounts.projections import ACCOUNT_SEARCH, projections
from eskit.domain import Command
from eskit.errors import DomainError, EskitError
from eskit.projections import ProjectionRunner
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, has_transactions, open_store

__all__ = ["app", "money", "run_demo"]

app = typer.Typer(add_completion=False)
console = Console()


def money(amount: int, currency: str) -> str:
    """``amount`` minor units of ``currency`` as people read it: ``money(2014305, "USD")``
    is ``20,143.05 USD``, ``money(500, "JPY")`` is ``500 JPY``."""
    exponent = iso4217.Currency(currency).exponent or 0
    units, cents = divmod(abs(amount), 10**exponent)
    sign = "-" if amount < 0 else ""
    fraction = f".{cents:0{exponent}d}" if exponent else ""
    return f"{sign}{units:,}{fraction} {currency}"


async def run_demo(
    store: EventStoreBackend,
    *,
    accounts: int = 5,
    operations: int = 50,
    seed: int = 7,
    snapshot_every: int | None = None,
) -> None:
    """Open ``accounts`` accounts and run ``operations`` random payments against them."""
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
        kind = DepositMoney if rng.random() < 0.6 else WithdrawMoney
        command: Command = kind(
            aggregate_id=account_id, amount=rng.randrange(1, 5_000), payment_id=f"demo-{seed}-{n}"
        )
        try:
            await handler.handle(command)
        except InsufficientFundsError as exc:
            refused += 1
            currency = (await handler.repository.load(account_id)).currency
            console.print(
                f"[yellow]refused[/yellow] {type(command).__name__} of "
                f"{money(exc.amount, currency)}: the balance is {money(exc.balance, currency)}"
            )
        except DomainError as exc:
            refused += 1
            console.print(f"[yellow]refused[/yellow] {type(command).__name__}: {exc}")
    elapsed = time.perf_counter() - started

    table = Table("account", "holder", "balance", "version", title="balances")
    for account_id in ids:
        account = await handler.repository.load(account_id)
        table.add_row(
            account_id,
            f"{account.first_name} {account.last_name}",
            money(account.balance, account.currency),
            str(account.version),
        )
    console.print(table)
    console.print(
        f"{accounts} accounts, {operations} payments ({refused} refused) in {elapsed:.2f} s; "
        f"the log now ends at position {await store.last_position()}"
    )
    if has_transactions(store):  # read models live in a SQL store's database, not in memory
        await _show_read_side(store)


async def _show_read_side(store: EventStoreBackend) -> None:
    """Bring the read models up to date and query them: the richest accounts, by search."""
    started = time.perf_counter()
    async with ProjectionRunner(store, projections()) as runner:
        await runner.wait_for(await store.last_position(), timeout_s=60)
        page = await ACCOUNT_SEARCH.search(
            runner.store, "holder", sort="balance", descending=True, limit=5
        )
    table = Table("account", "holder", "balance", title="richest accounts (search read model)")
    for entry in page.items:
        table.add_row(
            entry["account_id"], entry["name"], money(entry["balance"], entry["currency"])
        )
    console.print(table)
    console.print(
        f"read models caught up in {time.perf_counter() - started:.2f} s "
        f"({page.total} accounts match 'holder')"
    )


@app.command()
def main(
    database_url: Annotated[
        str | None,
        typer.Option(envvar="ESKIT_DATABASE_URL", help="The store (default: the settings')."),
    ] = None,
    accounts: Annotated[int, typer.Option(min=1, max=1000)] = 5,
    operations: Annotated[int, typer.Option(min=0, max=100_000)] = 50,
    seed: Annotated[int, typer.Option(help="Random seed for the workload.")] = 7,
) -> None:
    """Open bank accounts, run deposits and withdrawals, and print the balances."""
    settings = EskitSettings()
    url = database_url or settings.database_url

    async def demo() -> None:
        async with open_store(url, migrate=None, **settings.store_options()) as store:
            await run_demo(
                store,
                accounts=accounts,
                operations=operations,
                seed=seed,
                snapshot_every=settings.snapshot_every,
            )

    try:
        asyncio.run(demo())
    except EskitError as exc:
        console.print(f"[red]error[/red] ({exc.code}): {exc}")
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
