"""Financing's domain: issuers it knows, investors' balances, invoices for sale.

Money is integer minor units (cents) plus an ISO 4217 currency code, never a float.

* :class:`FinancingIssuer`: an issuer as Financing knows it, added under the id Registering
  gave it.
* :class:`InvestorAccount`: an investor's money, split into ``available`` (free to bid or
  withdraw), ``reserved`` (held for open bids) and ``financed`` (paid for invoices). A bid
  reserves funds; the reservation is then released (the bid lost) or committed (the bid
  financed the invoice). Whatever happens, ``available + reserved + financed`` equals the
  deposits less the withdrawals, and none of the three is ever negative.
* :class:`Invoice`: an invoice an issuer put up for sale. A bid on it (``finance``) is
  always answered by an event: ``InvoiceFinanced`` for the first bid of the right amount,
  ``BidRejected`` with a reason for any other, so that the process that reserved the
  bidder's funds learns whether to commit or release them.

A bid id seen before changes nothing, wherever it arrives: bids are idempotent.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self, get_args

from pydantic import Field

from eskit.domain import Aggregate, Event, applies
from eskit.errors import DomainError

__all__ = [
    "MAX_HOLDINGS",
    "REJECTION_REASONS",
    "BalanceLimitError",
    "BidRejected",
    "CurrencyMismatchError",
    "FinancingIssuer",
    "FundsCommitted",
    "FundsDeposited",
    "FundsReleased",
    "FundsReserved",
    "FundsWithdrawn",
    "InsufficientFundsError",
    "InvalidAmountError",
    "InvestorAccount",
    "InvestorAccountOpened",
    "Invoice",
    "InvoiceFinanced",
    "InvoicePutForSale",
    "InvoiceStatus",
    "InvoiceWithdrawn",
    "IssuerAdded",
    "RejectionReason",
    "Reservation",
    "UnknownInvoiceError",
    "UnknownIssuerError",
]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
MinorUnits = Annotated[int, Field(strict=True)]

MAX_HOLDINGS = 2**53 - 1
"""The most an investor may hold in all (available, reserved and financed), in minor units.

JSON clients read numbers as IEEE doubles, which hold integers exactly only up to 2**53 - 1;
it also keeps every sum far below the 64-bit columns of the read models.
"""

InvoiceStatus = Literal["for_sale", "financed", "withdrawn"]
RejectionReason = Literal["already_financed", "withdrawn", "amount_mismatch"]
REJECTION_REASONS: tuple[str, ...] = get_args(RejectionReason)
"""Why an invoice refuses a bid: it is financed already, it was withdrawn, or the bid's
amount or currency is not the invoice's."""


# -- errors --------------------------------------------------------------------------


class InvalidAmountError(DomainError):
    """An amount that is not a positive integer."""

    code = "invalid_amount"

    def __init__(self, amount: object) -> None:
        super().__init__(f"amount {amount!r} is invalid: an amount is an integer > 0")
        self.amount = amount


class InsufficientFundsError(DomainError):
    """A withdrawal or bid larger than what the investor has available."""

    code = "insufficient_funds"

    def __init__(self, investor_id: str, available: int, amount: int) -> None:
        super().__init__(f"investor {investor_id} has {available} available, asked for {amount}")
        self.available = available
        self.amount = amount


class CurrencyMismatchError(DomainError):
    """Money in another currency than the investor account's."""

    code = "currency_mismatch"

    def __init__(self, investor_id: str, expected: str, given: str) -> None:
        super().__init__(f"investor {investor_id} holds {expected}, not {given}")
        self.expected = expected
        self.given = given


class BalanceLimitError(DomainError):
    """A deposit that would take an investor's holdings past :data:`MAX_HOLDINGS`."""

    code = "balance_limit"

    def __init__(self, investor_id: str, holdings: int, amount: int) -> None:
        super().__init__(
            f"investor {investor_id} holds {holdings}: adding {amount} would pass the most an "
            f"investor can hold ({MAX_HOLDINGS})"
        )
        self.holdings = holdings
        self.amount = amount
        self.limit = MAX_HOLDINGS


class UnknownIssuerError(DomainError):
    """An invoice of an issuer Financing has not been told about."""

    code = "unknown_issuer"

    def __init__(self, issuer_id: str) -> None:
        super().__init__(f"issuer {issuer_id} is not known to financing")
        self.issuer_id = issuer_id


class UnknownInvoiceError(DomainError):
    """A bid on an invoice that does not exist."""

    code = "unknown_invoice"

    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"invoice {invoice_id} does not exist")
        self.invoice_id = invoice_id


# -- events --------------------------------------------------------------------------


class IssuerAdded(Event):
    """Financing learnt of an issuer (registered in Registering under the same id)."""

    event_type = "financing.IssuerAdded"
    name: str


class InvestorAccountOpened(Event):
    """An investor (registered in Registering under the same id) got an account."""

    event_type = "financing.InvestorAccountOpened"
    name: str
    currency: Currency


class FundsDeposited(Event):
    """Money was paid into the investor's account: available up."""

    event_type = "financing.FundsDeposited"
    amount: MinorUnits


class FundsWithdrawn(Event):
    """Money was paid out of the investor's account: available down."""

    event_type = "financing.FundsWithdrawn"
    amount: MinorUnits


class FundsReserved(Event):
    """The investor bid on an invoice: the amount moved from available to reserved."""

    event_type = "financing.FundsReserved"
    bid_id: str
    invoice_id: str
    amount: MinorUnits
    currency: Currency


class FundsReleased(Event):
    """A bid's reservation ended without financing: back from reserved to available."""

    event_type = "financing.FundsReleased"
    bid_id: str
    invoice_id: str
    amount: MinorUnits
    reason: str


class FundsCommitted(Event):
    """A bid financed its invoice: the amount moved from reserved to financed."""

    event_type = "financing.FundsCommitted"
    bid_id: str
    invoice_id: str
    amount: MinorUnits


class InvoicePutForSale(Event):
    """An issuer offered an invoice for financing."""

    event_type = "financing.InvoicePutForSale"
    issuer_id: str
    amount: MinorUnits
    currency: Currency
    due_date: date


class InvoiceFinanced(Event):
    """A bid financed the invoice: it is sold."""

    event_type = "financing.InvoiceFinanced"
    bid_id: str
    investor_id: str
    amount: MinorUnits


class BidRejected(Event):
    """The invoice refused a bid, for ``reason`` (one of :data:`REJECTION_REASONS`)."""

    event_type = "financing.BidRejected"
    bid_id: str
    investor_id: str
    reason: RejectionReason


class InvoiceWithdrawn(Event):
    """The invoice is no longer for sale."""

    event_type = "financing.InvoiceWithdrawn"
    reason: str


# -- issuers -------------------------------------------------------------------------


class FinancingIssuer(Aggregate):
    """An issuer Financing knows, under the id Registering gave it."""

    stream_type = "financing.Issuer"

    name: str = ""

    @classmethod
    def add(cls, issuer_id: str, *, name: str) -> Self:
        """The issuer, new to Financing."""
        issuer = cls(id=issuer_id)
        issuer.record(IssuerAdded(name=name))
        return issuer

    @applies(IssuerAdded)
    def _added(self, event: IssuerAdded) -> None:
        self.name = event.name


# -- investors -----------------------------------------------------------------------

Reservation = tuple[str, int]
"""An open bid's reservation: (invoice id, amount)."""

Settlement = Literal["released", "committed"]


class InvestorAccount(Aggregate):
    """An investor's money: available, reserved for open bids, and financed."""

    stream_type = "financing.Investor"
    snapshot_every = 100

    name: str = ""
    currency: str = "EUR"
    available: int = 0
    reserved: int = 0
    financed: int = 0
    reservations: dict[str, Reservation] = Field(default_factory=dict)
    """The open bids by bid id."""
    settled: dict[str, Settlement] = Field(default_factory=dict)
    """The bids whose reservation ended, by bid id (kept to recognise a repeated bid)."""

    @property
    def holdings(self) -> int:
        """Everything the investor has: available, reserved and financed."""
        return self.available + self.reserved + self.financed

    # -- decisions ---------------------------------------------------------------------

    @classmethod
    def open(cls, investor_id: str, *, name: str, currency: str = "EUR") -> Self:
        """The account of an investor, empty, holding ``currency``."""
        account = cls(id=investor_id)
        account.record(InvestorAccountOpened(name=name, currency=currency))
        return account

    def deposit(self, amount: int, currency: str) -> None:
        """Pay ``amount`` in (available up).

        Raises CurrencyMismatchError for another currency, BalanceLimitError past
        :data:`MAX_HOLDINGS`.
        """
        _check_positive(amount)
        self._check_currency(currency)
        if amount > MAX_HOLDINGS - self.holdings:
            raise BalanceLimitError(self.id, self.holdings, amount)
        self.record(FundsDeposited(amount=amount))

    def withdraw(self, amount: int, currency: str) -> None:
        """Pay ``amount`` out of what is available.

        Raises InsufficientFundsError if less is available, CurrencyMismatchError for
        another currency.
        """
        _check_positive(amount)
        self._check_currency(currency)
        if amount > self.available:
            raise InsufficientFundsError(self.id, self.available, amount)
        self.record(FundsWithdrawn(amount=amount))

    def bid(self, bid_id: str, invoice_id: str, amount: int, currency: str) -> None:
        """Reserve ``amount`` of what is available for a bid on ``invoice_id``.

        A bid id seen before (open or settled) changes nothing. Raises
        InsufficientFundsError if less is available, CurrencyMismatchError for another
        currency.
        """
        _check_positive(amount)
        if bid_id in self.reservations or bid_id in self.settled:
            return
        self._check_currency(currency)
        if amount > self.available:
            raise InsufficientFundsError(self.id, self.available, amount)
        self.record(
            FundsReserved(bid_id=bid_id, invoice_id=invoice_id, amount=amount, currency=currency)
        )

    def release(self, bid_id: str, reason: str) -> None:
        """Give a bid's reservation back to what is available; nothing unless it is open."""
        reservation = self.reservations.get(bid_id)
        if reservation is not None:
            invoice_id, amount = reservation
            self.record(
                FundsReleased(bid_id=bid_id, invoice_id=invoice_id, amount=amount, reason=reason)
            )

    def commit(self, bid_id: str) -> None:
        """Turn a bid's reservation into financing; nothing unless it is open."""
        reservation = self.reservations.get(bid_id)
        if reservation is not None:
            invoice_id, amount = reservation
            self.record(FundsCommitted(bid_id=bid_id, invoice_id=invoice_id, amount=amount))

    def _check_currency(self, currency: str) -> None:
        if currency != self.currency:
            raise CurrencyMismatchError(self.id, self.currency, currency)

    # -- state changes ---------------------------------------------------------------

    @applies(InvestorAccountOpened)
    def _opened(self, event: InvestorAccountOpened) -> None:
        self.name = event.name
        self.currency = event.currency

    @applies(FundsDeposited)
    def _deposited(self, event: FundsDeposited) -> None:
        self.available += event.amount

    @applies(FundsWithdrawn)
    def _withdrawn(self, event: FundsWithdrawn) -> None:
        self.available -= event.amount

    @applies(FundsReserved)
    def _reserved(self, event: FundsReserved) -> None:
        self.available -= event.amount
        self.reserved += event.amount
        self.reservations[event.bid_id] = (event.invoice_id, event.amount)

    @applies(FundsReleased)
    def _released(self, event: FundsReleased) -> None:
        self.reserved -= event.amount
        self.available += event.amount
        del self.reservations[event.bid_id]
        self.settled[event.bid_id] = "released"

    @applies(FundsCommitted)
    def _committed(self, event: FundsCommitted) -> None:
        self.reserved -= event.amount
        self.financed += event.amount
        del self.reservations[event.bid_id]
        self.settled[event.bid_id] = "committed"


# -- invoices ------------------------------------------------------------------------


class Invoice(Aggregate):
    """An invoice for sale: financed by the first bid of its amount, or withdrawn."""

    stream_type = "financing.Invoice"

    issuer_id: str = ""
    amount: int = 0
    currency: str = ""
    due_date: date | None = None
    status: InvoiceStatus = "for_sale"
    investor_id: str | None = None
    bid_id: str | None = None
    """The bid that financed the invoice."""
    rejected_bids: dict[str, RejectionReason] = Field(default_factory=dict)
    """The bids refused, by bid id (kept to answer a repeated bid with nothing)."""

    # -- decisions ---------------------------------------------------------------------

    @classmethod
    def put_for_sale(
        cls, invoice_id: str, *, issuer_id: str, amount: int, currency: str, due_date: date
    ) -> Self:
        """A new invoice for sale, of ``amount`` minor units of ``currency``."""
        _check_positive(amount)
        invoice = cls(id=invoice_id)
        invoice.record(
            InvoicePutForSale(
                issuer_id=issuer_id, amount=amount, currency=currency, due_date=due_date
            )
        )
        return invoice

    def finance(self, bid_id: str, investor_id: str, amount: int, currency: str) -> None:
        """Answer a bid: ``InvoiceFinanced`` if the invoice is for sale and the bid is of
        its amount and currency, else ``BidRejected`` with the reason. Never raises a
        business error; a bid answered before changes nothing."""
        if bid_id == self.bid_id or bid_id in self.rejected_bids:
            return
        reason: RejectionReason | None = None
        if self.status == "financed":
            reason = "already_financed"
        elif self.status == "withdrawn":
            reason = "withdrawn"
        elif (amount, currency) != (self.amount, self.currency):
            reason = "amount_mismatch"
        if reason is None:
            self.record(InvoiceFinanced(bid_id=bid_id, investor_id=investor_id, amount=amount))
        else:
            self.record(BidRejected(bid_id=bid_id, investor_id=investor_id, reason=reason))

    def withdraw(self, reason: str) -> None:
        """Take the invoice off sale; nothing unless it is for sale."""
        if self.status == "for_sale":
            self.record(InvoiceWithdrawn(reason=reason))

    # -- state changes ---------------------------------------------------------------

    @applies(InvoicePutForSale)
    def _put_for_sale(self, event: InvoicePutForSale) -> None:
        self.issuer_id = event.issuer_id
        self.amount = event.amount
        self.currency = event.currency
        self.due_date = event.due_date
        self.status = "for_sale"

    @applies(InvoiceFinanced)
    def _financed(self, event: InvoiceFinanced) -> None:
        self.status = "financed"
        self.investor_id = event.investor_id
        self.bid_id = event.bid_id

    @applies(BidRejected)
    def _rejected(self, event: BidRejected) -> None:
        self.rejected_bids[event.bid_id] = event.reason

    @applies(InvoiceWithdrawn)
    def _withdrawn(self, event: InvoiceWithdrawn) -> None:
        self.status = "withdrawn"


def _check_positive(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmountError(amount)
