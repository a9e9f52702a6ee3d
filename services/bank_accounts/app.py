"""Wiring the bank-account domain to an event store: registry, repository, command handler."""

from __future__ import annotations

from bank_accounts.commands import ChangeEmail, DepositMoney, OpenAccount, WithdrawMoney
from bank_accounts.domain import (
    AccountOpened,
    BankAccount,
    EmailChanged,
    MoneyDeposited,
    MoneyWithdrawn,
)
from eskit.app import CommandHandler, Repository
from eskit.domain import EventRegistry
from eskit.store import EventStoreBackend

__all__ = ["build_handler", "registry"]

registry = EventRegistry([AccountOpened, MoneyDeposited, MoneyWithdrawn, EmailChanged])


def build_handler(
    store: EventStoreBackend, *, snapshot_every: int | None = None, cache_size: int = 1024
) -> CommandHandler[BankAccount]:
    """The command handler of the service, over ``store``, keeping ``cache_size`` accounts."""
    repository = Repository(store, BankAccount, registry, snapshot_every=snapshot_every)
    handler: CommandHandler[BankAccount] = CommandHandler(repository, cache_size=cache_size)

    @handler.creates(OpenAccount)
    def open_account(command: OpenAccount) -> BankAccount:
        return BankAccount.open(
            command.aggregate_id,
            email=command.email,
            address=command.address,
            first_name=command.first_name,
            last_name=command.last_name,
            balance=command.balance,
            currency=command.currency,
            status=command.status,
        )

    @handler.updates(DepositMoney)
    def deposit(account: BankAccount, command: DepositMoney) -> None:
        account.deposit(command.amount, command.payment_id)

    @handler.updates(WithdrawMoney)
    def withdraw(account: BankAccount, command: WithdrawMoney) -> None:
        account.withdraw(command.amount, command.payment_id)

    @handler.updates(ChangeEmail)
    def change_email(account: BankAccount, command: ChangeEmail) -> None:
        account.change_email(command.email)

    return handler
