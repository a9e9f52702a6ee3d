"""The bank-account application: commands and queries over one store.

``build_handler`` wires the domain to the store (an event registry, a repository that keeps
a snapshot every 100 events, one small function per command); ``BankAccounts`` is that
handler and the queries together, the object both APIs are thin layers on.
"""

from __future__ import annotations

from bank_accounts.commands import ChangeEmail, DepositMoney, OpenAccount, WithdrawMoney
from bank_accounts.domain import (
    AccountOpened,
    BankAccount,
    EmailChanged,
    MoneyDeposited,
    MoneyWithdrawn,
)
from bank_accounts.queries import AccountQueries
from eskit.app import CommandHandler, Repository
from eskit.domain import EventRegistry
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["BankAccounts", "account_repository", "build_handler", "registry"]

registry = EventRegistry([AccountOpened, MoneyDeposited, MoneyWithdrawn, EmailChanged])


def account_repository(
    store: EventStoreBackend, *, snapshot_every: int | None = None
) -> Repository[BankAccount]:
    """The accounts in ``store``, a snapshot every ``snapshot_every`` events (the account's
    own setting unless given)."""
    return Repository(store, BankAccount, registry, snapshot_every=snapshot_every)


def build_handler(
    store: EventStoreBackend, *, snapshot_every: int | None = None, cache_size: int = 1024
) -> CommandHandler[BankAccount]:
    """The command handler of the service, over ``store``, keeping ``cache_size`` accounts."""
    repository = account_repository(store, snapshot_every=snapshot_every)
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


class BankAccounts:
    """Commands (``handler``) and queries (``queries``) of the service over one store."""

    def __init__(
        self,
        store: EventStoreBackend,
        *,
        snapshot_every: int | None = None,
        consistency_timeout_s: float = 5.0,
        cache_size: int = 1024,
    ) -> None:
        self.store = store
        self.handler = build_handler(store, snapshot_every=snapshot_every, cache_size=cache_size)
        self.queries = AccountQueries(
            store,
            account_repository(store, snapshot_every=snapshot_every),
            timeout_s=consistency_timeout_s,
        )

    @classmethod
    def from_settings(cls, store: EventStoreBackend, settings: EskitSettings) -> BankAccounts:
        """The service configured by ``settings``."""
        return cls(
            store,
            snapshot_every=settings.snapshot_every,
            consistency_timeout_s=settings.consistency_timeout_s,
            cache_size=settings.aggregate_cache_size,
        )
