"""Financing's synchronous reactor: an invoice's issuer must be one Financing knows.

It runs inside the transaction that would record ``InvoicePutForSale``: an issuer that
Registering never signed up (or whose registration has not reached Financing yet) vetoes
the append, and the command answers ``UnknownIssuerError``. Nothing is written.
"""

from __future__ import annotations

from eskit.process import Reactor, reacts
from eskit.projections import ProjectionContext
from invoice_financing.financing.domain import (
    FinancingIssuer,
    InvoicePutForSale,
    UnknownIssuerError,
)

__all__ = ["IssuerMustBeKnown"]


class IssuerMustBeKnown(Reactor):
    """Vetoes an invoice put up for sale by an issuer Financing does not know."""

    name = "financing_issuer_must_be_known"

    @reacts(InvoicePutForSale)
    async def check(self, event: InvoicePutForSale, ctx: ProjectionContext) -> None:
        """Raise UnknownIssuerError unless the issuer's Financing stream exists."""
        first = await ctx.tx.read_stream(event.issuer_id, to_version=1)
        if not first or first[0].stream_type != FinancingIssuer.stream_type:
            raise UnknownIssuerError(event.issuer_id)
