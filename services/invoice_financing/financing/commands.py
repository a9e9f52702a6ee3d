"""Financing's commands, validated at the edge.

Money is an ``amount`` of minor units (an integer > 0) and a ``currency`` of the current
ISO 4217 list, as the ``iso4217`` package publishes it. Bids are named by a ``bid_id``
(a UUID, new unless given): the same bid id again changes nothing.

``AddIssuer`` and ``OpenInvestorAccount`` make aggregates under the id Registering gave the
issuer or investor, so their ``aggregate_id`` is required.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import iso4217
from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from eskit.domain import Command, uuid7

__all__ = [
    "CURRENCY_CODES",
    "AddIssuer",
    "Amount",
    "BidOnInvoice",
    "CommitFunds",
    "Currency",
    "DepositFunds",
    "FinanceInvoice",
    "Id",
    "Name",
    "OpenInvestorAccount",
    "PutInvoiceForSale",
    "Reason",
    "ReleaseFunds",
    "WithdrawFunds",
    "WithdrawInvoice",
]

Id = Annotated[str, Field(min_length=1, max_length=200)]
"""The id of an issuer, investor or invoice."""
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[int, Field(strict=True, gt=0, le=10**15)]
"""Minor units, > 0; the domain refuses what passes its own limits."""

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


# -- issuers ---------------------------------------------------------------------------------


class AddIssuer(Command):
    """Tell Financing of an issuer Registering signed up (``aggregate_id``: its id)."""

    aggregate_id: Id
    name: Name


# -- investors -------------------------------------------------------------------------------


class OpenInvestorAccount(Command):
    """Open the account of an investor Registering signed up (``aggregate_id``: its id)."""

    aggregate_id: Id
    name: Name
    currency: Currency = "EUR"


class DepositFunds(Command):
    """Pay money into an investor's account."""

    amount: Amount
    currency: Currency


class WithdrawFunds(Command):
    """Pay money out of what an investor has available."""

    amount: Amount
    currency: Currency


class BidOnInvoice(Command):
    """Reserve money of an investor's account for a bid on an invoice."""

    invoice_id: Id
    amount: Amount
    currency: Currency
    bid_id: uuid.UUID = Field(default_factory=uuid7)


class ReleaseFunds(Command):
    """Give a bid's reserved money back to the investor (the bid did not finance)."""

    bid_id: uuid.UUID
    reason: Reason


class CommitFunds(Command):
    """Turn a bid's reserved money into financing (the bid financed its invoice)."""

    bid_id: uuid.UUID


# -- invoices --------------------------------------------------------------------------------


class PutInvoiceForSale(Command):
    """Offer an issuer's invoice for financing (a new invoice unless ``aggregate_id`` is given)."""

    issuer_id: Id
    amount: Amount
    currency: Currency
    due_date: date


class FinanceInvoice(Command):
    """Answer a bid on an invoice: it is financed by it, or the bid is rejected."""

    bid_id: uuid.UUID
    investor_id: Id
    amount: Amount
    currency: Currency


class WithdrawInvoice(Command):
    """Take an invoice off sale."""

    reason: Reason
