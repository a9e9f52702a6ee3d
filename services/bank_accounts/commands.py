"""The commands of the bank-account service, validated at the edge.

An account's ``status`` is one of :data:`STATUSES`; its ``currency`` a code of the current
ISO 4217 list (``USD``, ``EUR``, ``JPY``...), as the ``iso4217`` package publishes it.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import iso4217
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from bank_accounts.domain import email_field
from eskit.domain import Command

__all__ = [
    "CURRENCY_CODES",
    "STATUSES",
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
Address = Annotated[str, Field(min_length=1, max_length=500)]
Status = Literal["active", "frozen", "closed"]
STATUSES: tuple[str, ...] = get_args(Status)
"""The statuses an account may be opened with."""

CURRENCY_CODES: tuple[str, ...] = tuple(sorted(currency.code for currency in iso4217.Currency))
"""The ISO 4217 currency codes."""
_CURRENCIES = frozenset(CURRENCY_CODES)


def _iso_currency(code: str) -> str:
    if code not in _CURRENCIES:
        raise PydanticCustomError("currency", "not an ISO 4217 currency code")
    return code


Currency = Annotated[
    str, AfterValidator(_iso_currency), Field(json_schema_extra={"enum": list(CURRENCY_CODES)})
]


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
