"""The commands of the bank-account service, validated at the edge."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from bank_accounts.domain import email_field
from eskit.domain import Command

__all__ = [
    "Address",
    "Amount",
    "ChangeEmail",
    "Currency",
    "DepositMoney",
    "Email",
    "OpenAccount",
    "OpeningBalance",
    "PaymentId",
    "Status",
    "Text",
    "WithdrawMoney",
]

Email = Annotated[str, Field(max_length=254), AfterValidator(email_field)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
PaymentId = Annotated[str, Field(min_length=1, max_length=100)]
Amount = Annotated[int, Field(strict=True, gt=0, le=10**15)]
# as large as a 64-bit integer: the domain refuses what passes its own limit (409), this
# only keeps absurd numbers (422) from reaching it
OpeningBalance = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Address = Annotated[str, Field(min_length=1, max_length=500)]
Status = Annotated[str, Field(min_length=1, max_length=50)]


class OpenAccount(Command):
    """Open an account with an opening balance in minor units (>= 0)."""

    email: Email
    address: Address
    first_name: Text
    last_name: Text
    balance: OpeningBalance = 0
    currency: Currency = "USD"
    status: Status = "active"


class DepositMoney(Command):
    """Pay an amount (minor units, > 0) into an account under a payment id."""

    amount: Amount
    payment_id: PaymentId


class WithdrawMoney(Command):
    """Pay an amount (minor units, > 0) out of an account under a payment id."""

    amount: Amount
    payment_id: PaymentId


class ChangeEmail(Command):
    """Change the account holder's e-mail address."""

    email: Email
