"""Financing's synchronous reactors: checks that need another aggregate's stream.

Each runs inside the transaction that would record its event and vetoes the append when
the other aggregate is not there; the command answers the typed error, nothing is written:

* ``InvoicePutForSale`` needs an issuer Financing knows (one Registering never signed up,
  or whose registration has not reached Financing yet: ``UnknownIssuerError``);
* ``FundsReserved`` needs an invoice that exists (``UnknownInvoiceError``): a bid on no
  invoice would reserve money that no invoice could ever answer, the bid's saga waiting
  forever. What exists but is no longer for sale answers with ``BidRejected``, and the
  reservation is released.
"""

from __future__ import annotations

from eskit.process import Reactor, reacts
from eskit.projections import ProjectionContext
from invoice_financing.financing.domain import (
    FinancingIssuer,
    FundsReserved,
    Invoice,
    InvoicePutForSale,
    UnknownInvoiceError,
    UnknownIssuerError,
)

__all__ = ["InvoiceMustExist", "IssuerMustBeKnown"]


class IssuerMustBeKnown(Reactor):
    """Vetoes an invoice put up for sale by an issuer Financing does not know."""

    name = "financing_issuer_must_be_known"

    @reacts(InvoicePutForSale)
    async def check(self, event: InvoicePutForSale, ctx: ProjectionContext) -> None:
        """Raise UnknownIssuerError unless the issuer's Financing stream exists."""
        first = await ctx.tx.read_stream(event.issuer_id, to_version=1)
        if not first or first[0].stream_type != FinancingIssuer.stream_type:
            raise UnknownIssuerError(event.issuer_id)


class InvoiceMustExist(Reactor):
    """Vetoes a reservation of funds for an invoice that does not exist."""

    name = "financing_invoice_must_exist"

    @reacts(FundsReserved)
    async def check(self, event: FundsReserved, ctx: ProjectionContext) -> None:
        """Raise UnknownInvoiceError unless the invoice's stream exists."""
        first = await ctx.tx.read_stream(event.invoice_id, to_version=1)
        if not first or first[0].stream_type != Invoice.stream_type:
            raise UnknownInvoiceError(event.invoice_id)
