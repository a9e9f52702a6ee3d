"""The bank-account domain: events, the BankAccount aggregate, its rules and errors.

Money is integer minor units (cents) plus an ISO 4217 currency code, never a float.
A deposit or withdrawal carries a payment id; repeating it on the same account with the
same amount changes nothing, with another amount it is refused.

A balance never passes :data:`MAX_BALANCE`: the domain, not a read model's column, decides
how much an account can hold.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field
from pydantic_core import PydanticCustomError

from eskit.domain import Aggregate, Event, applies
from eskit.errors import DomainError

__all__ = [
    "MAX_BALANCE",
    "AccountOpened",
    "BalanceLimitError",
    "BankAccount",
    "EmailChanged",
    "InsufficientFundsError",
    "InvalidAmountError",
    "InvalidEmailError",
    "MoneyDeposited",
    "MoneyWithdrawn",
    "Payment",
    "PaymentConflictError",
]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MinorUnits = Annotated[int, Field(strict=True)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

MAX_BALANCE = 2**53 - 1
"""The largest balance an account may hold, in minor units (9,007,199,254,740,991).

JSON clients read numbers as IEEE doubles (JavaScript's ``Number``), which hold integers
exactly only up to 2**53 - 1; it also stays far below the 64-bit columns of read models.
"""


# -- errors --------------------------------------------------------------------------


class InvalidAmountError(DomainError):
    """An amount that is not a positive (or, for an opening balance, non-negative) integer."""

    code = "invalid_amount"

    def __init__(self, amount: object, rule: str) -> None:
        super().__init__(f"amount {amount!r} is invalid: {rule}")
        self.amount = amount


class InsufficientFundsError(DomainError):
    """A withdrawal larger than the balance; the balance never goes below zero."""

    code = "insufficient_funds"

    def __init__(self, account_id: str, balance: int, amount: int) -> None:
        super().__init__(f"account {account_id} has {balance} and cannot pay out {amount}")
        self.balance = balance
        self.amount = amount


class BalanceLimitError(DomainError):
    """A command that would take a balance past :data:`MAX_BALANCE`."""

    code = "balance_limit"

    def __init__(self, account_id: str, balance: int, amount: int) -> None:
        super().__init__(
            f"account {account_id} has {balance}: adding {amount} would pass the largest "
            f"balance an account can hold ({MAX_BALANCE})"
        )
        self.balance = balance
        self.amount = amount
        self.limit = MAX_BALANCE


class PaymentConflictError(DomainError):
    """A payment id already used on this account for another kind of payment or amount."""

    code = "payment_conflict"

    def __init__(self, payment_id: str, detail: str) -> None:
        super().__init__(f"payment {payment_id!r} was already recorded {detail}")
        self.payment_id = payment_id


class InvalidEmailError(DomainError):
    """Not a usable e-mail address."""

    code = "invalid_email"

    def __init__(self, email: str) -> None:
        super().__init__(f"{email!r} is not a valid e-mail address")


def check_email(email: str) -> str:
    """The address, stripped, if it looks deliverable in form; raises InvalidEmailError."""
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidEmailError(email)
    return email


def email_field(value: str) -> str:
    """Pydantic validator form of :func:`check_email`, for commands."""
    try:
        return check_email(value)
    except InvalidEmailError as exc:
        raise PydanticCustomError("email", "not a valid e-mail address") from exc


# -- events --------------------------------------------------------------------------


class AccountOpened(Event):
    """A bank account was opened with an opening balance."""

    event_type = "bank_accounts.AccountOpened"
    email: str
    address: str
    first_name: str
    last_name: str
    balance: MinorUnits
    currency: Currency
    status: str


class MoneyDeposited(Event):
    """Money was paid into the account."""

    event_type = "bank_accounts.MoneyDeposited"
    amount: MinorUnits
    currency: Currency
    payment_id: str


class MoneyWithdrawn(Event):
    """Money was paid out of the account."""

    event_type = "bank_accounts.MoneyWithdrawn"
    amount: MinorUnits
    currency: Currency
    payment_id: str


class EmailChanged(Event):
    """The account holder's e-mail address changed."""

    event_type = "bank_accounts.EmailChanged"
    email: str


# -- aggregate -----------------------------------------------------------------------


PaymentKind = Literal["deposit", "withdrawal"]
Payment = tuple[PaymentKind, int]
"""A payment already applied to the account (kind, amount), kept to recognise repeats."""


class BankAccount(Aggregate):
    """A bank account: a balance that never goes negative, and its holder's details."""

    stream_type = "BankAccount"
    snapshot_every = 100

    email: str = ""
    address: str = ""
    first_name: str = ""
    last_name: str = ""
    balance: int = 0
    currency: str = "USD"
    status: str = ""
    payments: dict[str, Payment] = Field(default_factory=dict)

    # -- decisions ---------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        account_id: str,
        *,
        email: str,
        address: str,
        first_name: str,
        last_name: str,
        balance: int,
        currency: str = "USD",
        status: str = "active",
    ) -> Self:
        """A new account; the opening balance must be an integer >= 0.

        Raises BalanceLimitError if the opening balance is above :data:`MAX_BALANCE`.
        """
        if isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
            raise InvalidAmountError(balance, "an opening balance is an integer >= 0")
        if balance > MAX_BALANCE:
            raise BalanceLimitError(account_id, 0, balance)
        account = cls(id=account_id)
        account.record(
            AccountOpened(
                email=check_email(email),
                address=address,
                first_name=first_name,
                last_name=last_name,
                balance=balance,
                currency=currency,
                status=status,
            )
        )
        return account

    def deposit(self, amount: int, payment_id: str) -> None:
        """Pay ``amount`` in; a repeat of the same payment changes nothing.

        Raises BalanceLimitError if the balance would pass :data:`MAX_BALANCE`.
        """
        _check_positive(amount)
        if self._is_repeat(payment_id, "deposit", amount):
            return
        if amount > MAX_BALANCE - self.balance:
            raise BalanceLimitError(self.id, self.balance, amount)
        self.record(MoneyDeposited(amount=amount, currency=self.currency, payment_id=payment_id))

    def withdraw(self, amount: int, payment_id: str) -> None:
        """Pay ``amount`` out; raises InsufficientFundsError if the balance is too small."""
        _check_positive(amount)
        if self._is_repeat(payment_id, "withdrawal", amount):
            return
        if amount > self.balance:
            raise InsufficientFundsError(self.id, self.balance, amount)
        self.record(MoneyWithdrawn(amount=amount, currency=self.currency, payment_id=payment_id))

    def change_email(self, email: str) -> None:
        """Change the holder's address; the same address again changes nothing."""
        email = check_email(email)
        if email != self.email:
            self.record(EmailChanged(email=email))

    def _is_repeat(self, payment_id: str, kind: str, amount: int) -> bool:
        seen = self.payments.get(payment_id)
        if seen is None:
            return False
        if seen != (kind, amount):
            raise PaymentConflictError(payment_id, f"as a {seen[0]} of {seen[1]}")
        return True

    # -- state changes ---------------------------------------------------------------

    @applies(AccountOpened)
    def _opened(self, event: AccountOpened) -> None:
        self.email = event.email
        self.address = event.address
        self.first_name = event.first_name
        self.last_name = event.last_name
        self.balance = event.balance
        self.currency = event.currency
        self.status = event.status

    @applies(MoneyDeposited)
    def _deposited(self, event: MoneyDeposited) -> None:
        self.balance += event.amount
        self.payments[event.payment_id] = ("deposit", event.amount)

    @applies(MoneyWithdrawn)
    def _withdrawn(self, event: MoneyWithdrawn) -> None:
        self.balance -= event.amount
        self.payments[event.payment_id] = ("withdrawal", event.amount)

    @applies(EmailChanged)
    def _email_changed(self, event: EmailChanged) -> None:
        self.email = event.email


def _check_positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmountError(amount, "an amount is an integer > 0")
