"""Wallets: four events, one aggregate and its rules, four commands, the command handler."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field

from eskit.app import CommandHandler, Repository
from eskit.domain import Aggregate, Command, Event, EventRegistry, applies
from eskit.errors import DomainError
from eskit.store import EventStoreBackend

__all__ = [
    "Deposit",
    "Deposited",
    "InsufficientFundsError",
    "OpenWallet",
    "OwnerRenamed",
    "PaymentConflictError",
    "RenameOwner",
    "Wallet",
    "WalletOpened",
    "Withdraw",
    "Withdrawn",
    "build_handler",
    "registry",
]

# -- events ------------------------------------------------------------------------------


class WalletOpened(Event):
    """A wallet was opened with an opening balance."""

    event_type = "wallets.WalletOpened"
    owner: str
    balance: int


class Deposited(Event):
    """Money was paid into the wallet."""

    event_type = "wallets.Deposited"
    amount: int
    payment_id: str


class Withdrawn(Event):
    """Money was paid out of the wallet."""

    event_type = "wallets.Withdrawn"
    amount: int
    payment_id: str


class OwnerRenamed(Event):
    """The wallet's owner has a new name."""

    event_type = "wallets.OwnerRenamed"
    owner: str


registry = EventRegistry([WalletOpened, Deposited, Withdrawn, OwnerRenamed])

# -- errors ------------------------------------------------------------------------------


class InsufficientFundsError(DomainError):
    """A withdrawal larger than the balance."""

    code = "insufficient_funds"

    def __init__(self, wallet_id: str, balance: int, amount: int) -> None:
        super().__init__(f"wallet {wallet_id} has {balance} and cannot pay out {amount}")
        self.balance = balance


class PaymentConflictError(DomainError):
    """A payment id already used on this wallet for another payment."""

    code = "payment_conflict"

    def __init__(self, payment_id: str) -> None:
        super().__init__(f"payment {payment_id!r} was already recorded otherwise")


# -- the aggregate -------------------------------------------------------------------------


class Wallet(Aggregate):
    """A balance that never goes below zero; each payment id is paid once."""

    stream_type = "Wallet"

    owner: str = ""
    balance: int = 0
    payments: dict[str, tuple[str, int]] = Field(default_factory=dict)

    @classmethod
    def open(cls, wallet_id: str, *, owner: str, balance: int = 0) -> Self:
        """A new wallet."""
        wallet = cls(id=wallet_id)
        wallet.record(WalletOpened(owner=owner, balance=balance))
        return wallet

    def deposit(self, amount: int, payment_id: str) -> None:
        """Pay ``amount`` in; the same payment again changes nothing."""
        if not self._is_repeat(payment_id, "deposit", amount):
            self.record(Deposited(amount=amount, payment_id=payment_id))

    def withdraw(self, amount: int, payment_id: str) -> None:
        """Pay ``amount`` out; InsufficientFundsError if the balance is smaller."""
        if self._is_repeat(payment_id, "withdrawal", amount):
            return
        if amount > self.balance:
            raise InsufficientFundsError(self.id, self.balance, amount)
        self.record(Withdrawn(amount=amount, payment_id=payment_id))

    def rename(self, owner: str) -> None:
        """A new owner's name; the same name again changes nothing."""
        if owner != self.owner:
            self.record(OwnerRenamed(owner=owner))

    def _is_repeat(self, payment_id: str, kind: str, amount: int) -> bool:
        seen = self.payments.get(payment_id)
        if seen is not None and seen != (kind, amount):
            raise PaymentConflictError(payment_id)
        return seen is not None

    @applies(WalletOpened)
    def _opened(self, event: WalletOpened) -> None:
        self.owner = event.owner
        self.balance = event.balance

    @applies(Deposited)
    def _deposited(self, event: Deposited) -> None:
        self.balance += event.amount
        self.payments[event.payment_id] = ("deposit", event.amount)

    @applies(Withdrawn)
    def _withdrawn(self, event: Withdrawn) -> None:
        self.balance -= event.amount
        self.payments[event.payment_id] = ("withdrawal", event.amount)

    @applies(OwnerRenamed)
    def _renamed(self, event: OwnerRenamed) -> None:
        self.owner = event.owner


# -- commands ------------------------------------------------------------------------------

Owner = Annotated[str, Field(min_length=1, max_length=100)]
Amount = Annotated[int, Field(strict=True, gt=0)]
PaymentId = Annotated[str, Field(min_length=1, max_length=100)]


class OpenWallet(Command):
    """Open a wallet for ``owner`` with an opening balance (>= 0)."""

    owner: Owner
    balance: Annotated[int, Field(strict=True, ge=0)] = 0


class Deposit(Command):
    """Pay an amount (> 0) into a wallet under a payment id."""

    amount: Amount
    payment_id: PaymentId


class Withdraw(Command):
    """Pay an amount (> 0) out of a wallet under a payment id."""

    amount: Amount
    payment_id: PaymentId


class RenameOwner(Command):
    """Give the wallet's owner a new name."""

    owner: Owner


def build_handler(
    store: EventStoreBackend, *, snapshot_every: int | None = None, cache_size: int = 1024
) -> CommandHandler[Wallet]:
    """The wallets' command handler over ``store``."""
    repository = Repository(store, Wallet, registry, snapshot_every=snapshot_every)
    handler: CommandHandler[Wallet] = CommandHandler(repository, cache_size=cache_size)

    @handler.creates(OpenWallet)
    def open_wallet(command: OpenWallet) -> Wallet:
        return Wallet.open(command.aggregate_id, owner=command.owner, balance=command.balance)

    @handler.updates(Deposit)
    def deposit(wallet: Wallet, command: Deposit) -> None:
        wallet.deposit(command.amount, command.payment_id)

    @handler.updates(Withdraw)
    def withdraw(wallet: Wallet, command: Withdraw) -> None:
        wallet.withdraw(command.amount, command.payment_id)

    @handler.updates(RenameOwner)
    def rename(wallet: Wallet, command: RenameOwner) -> None:
        wallet.rename(command.owner)

    return handler
