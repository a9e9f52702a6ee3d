"""The service's read side: invoices, investors, issuers and bids in typed tables.

* ``invoice_financing_invoices``: one row per invoice (its issuer, amount, due date,
  status and, once financed, the investor and bid), indexed by status and by issuer;
* ``invoice_financing_investors``: one row per investor account, with its balances;
* ``invoice_financing_issuers``: the issuers Financing knows;
* ``invoice_financing_bids``: one row per bid, from the events of both the investor's
  account (reserved, released, committed) and the invoice (financed, rejected).

Each table has its own projection. The first three follow one stream type each, so their
events come in each stream's order. The bids' projection follows two: a bid's events come
from two streams, in the order of the global log, and a row may be started by any of them
(an invoice can answer a bid whose reservation it never saw). Each event fills in what it
knows; the status only moves forward (``reserved``, then ``financed`` or ``rejected``, then
``released``), so the row ends the same whatever order the streams' events arrive in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from eskit.projections import Projection, ProjectionContext, Table, handles
from eskit.store import StoredEvent
from invoice_financing.financing.domain import (
    BidRejected,
    FinancingIssuer,
    FundsCommitted,
    FundsDeposited,
    FundsReleased,
    FundsReserved,
    FundsWithdrawn,
    InvestorAccount,
    InvestorAccountOpened,
    Invoice,
    InvoiceFinanced,
    InvoicePutForSale,
    InvoiceWithdrawn,
    IssuerAdded,
)

__all__ = [
    "BIDS",
    "BID_STATUSES",
    "INVESTORS",
    "INVOICES",
    "ISSUERS",
    "BidStatus",
    "Bids",
    "Investors",
    "Invoices",
    "Issuers",
    "projections",
]

INVOICES = Table(
    "invoice_financing_invoices",
    {
        "id": str,
        "issuer_id": str,
        "amount": int,
        "currency": str,
        "due_date": str,  # ISO 8601, YYYY-MM-DD
        "status": str,  # for_sale, financed, withdrawn
        "investor_id": str,  # None until financed
        "bid_id": str,  # None until financed
        "updated_at": datetime,
    },
    key="id",
    indexes=[("status",), ("issuer_id",)],
)
"""Invoices by id; listed by status and by issuer."""

INVESTORS = Table(
    "invoice_financing_investors",
    {
        "id": str,
        "name": str,
        "currency": str,
        "available": int,
        "reserved": int,
        "financed": int,
    },
    key="id",
    indexes=[("name",)],
)
"""Investor accounts by id, with their balances in minor units."""

ISSUERS = Table(
    "invoice_financing_issuers", {"id": str, "name": str}, key="id", indexes=[("name",)]
)
"""The issuers Financing knows, by id."""

BIDS = Table(
    "invoice_financing_bids",
    {
        "bid_id": str,
        "invoice_id": str,
        "investor_id": str,
        "amount": int,  # None while only a rejection is known
        "status": str,  # reserved, financed, rejected, released
        "reason": str,  # why it was rejected (or else released), None otherwise
    },
    key="bid_id",
    indexes=[("invoice_id",), ("investor_id",)],
)
"""Bids by bid id."""

BidStatus = Literal["reserved", "financed", "rejected", "released"]
BID_STATUSES: tuple[BidStatus, ...] = ("reserved", "financed", "rejected", "released")
_STAGE: dict[str, int] = {"reserved": 0, "financed": 1, "rejected": 1, "released": 2}
"""How far along a bid each status is: a bid's row never goes back to an earlier stage."""


class Invoices(Projection):
    """One row per invoice."""

    name = "invoice_financing_invoices"
    read_models = (INVOICES,)
    stream_types = (Invoice.stream_type,)

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load the batch's rows in one query."""
        await ctx.writer(INVOICES).load_many(e.stream_id for e in events)

    @handles(InvoicePutForSale)
    async def put_for_sale(self, event: InvoicePutForSale, ctx: ProjectionContext) -> None:
        """A new row, for sale."""
        record = ctx.event
        await ctx.writer(INVOICES).upsert(
            {
                "id": record.stream_id,
                "issuer_id": event.issuer_id,
                "amount": event.amount,
                "currency": event.currency,
                "due_date": event.due_date.isoformat(),
                "status": "for_sale",
                "investor_id": None,
                "bid_id": None,
                "updated_at": record.recorded_at,
            }
        )

    @handles(InvoiceFinanced)
    async def financed(self, event: InvoiceFinanced, ctx: ProjectionContext) -> None:
        """Sold to the bid's investor."""
        await self._change(
            ctx, status="financed", investor_id=event.investor_id, bid_id=event.bid_id
        )

    @handles(BidRejected)
    async def rejected(self, event: BidRejected, ctx: ProjectionContext) -> None:
        """Nothing of the invoice changes but its time (the bid's row tells the rest)."""
        await self._change(ctx)

    @handles(InvoiceWithdrawn)
    async def withdrawn(self, event: InvoiceWithdrawn, ctx: ProjectionContext) -> None:
        """Off sale."""
        await self._change(ctx, status="withdrawn")

    async def _change(self, ctx: ProjectionContext, **changes: Any) -> None:
        record = ctx.event
        changed = await ctx.writer(INVOICES).update(
            record.stream_id, updated_at=record.recorded_at, **changes
        )
        if changed is None:  # the log says the invoice exists: a missing row is a bug
            raise LookupError(f"invoice {record.stream_id} has no {INVOICES.name} row")


class Investors(Projection):
    """One row per investor account, with its balances."""

    name = "invoice_financing_investors"
    read_models = (INVESTORS,)
    stream_types = (InvestorAccount.stream_type,)

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load the batch's rows in one query."""
        await ctx.writer(INVESTORS).load_many(e.stream_id for e in events)

    @handles(InvestorAccountOpened)
    async def opened(self, event: InvestorAccountOpened, ctx: ProjectionContext) -> None:
        """A new row, with nothing in it."""
        await ctx.writer(INVESTORS).upsert(
            {
                "id": ctx.event.stream_id,
                "name": event.name,
                "currency": event.currency,
                "available": 0,
                "reserved": 0,
                "financed": 0,
            }
        )

    @handles(FundsDeposited)
    async def deposited(self, event: FundsDeposited, ctx: ProjectionContext) -> None:
        """Available up."""
        await self._move(ctx, available=event.amount)

    @handles(FundsWithdrawn)
    async def withdrawn(self, event: FundsWithdrawn, ctx: ProjectionContext) -> None:
        """Available down."""
        await self._move(ctx, available=-event.amount)

    @handles(FundsReserved)
    async def reserved(self, event: FundsReserved, ctx: ProjectionContext) -> None:
        """From available to reserved."""
        await self._move(ctx, available=-event.amount, reserved=event.amount)

    @handles(FundsReleased)
    async def released(self, event: FundsReleased, ctx: ProjectionContext) -> None:
        """From reserved back to available."""
        await self._move(ctx, available=event.amount, reserved=-event.amount)

    @handles(FundsCommitted)
    async def committed(self, event: FundsCommitted, ctx: ProjectionContext) -> None:
        """From reserved to financed."""
        await self._move(ctx, reserved=-event.amount, financed=event.amount)

    async def _move(
        self, ctx: ProjectionContext, *, available: int = 0, reserved: int = 0, financed: int = 0
    ) -> None:
        investor_id = ctx.event.stream_id
        rows = ctx.writer(INVESTORS)
        row = await rows.get(investor_id)
        if row is None:  # the log says the account exists: a missing row is a bug
            raise LookupError(f"investor {investor_id} has no {INVESTORS.name} row")
        row["available"] += available
        row["reserved"] += reserved
        row["financed"] += financed
        await rows.upsert(row)


class Issuers(Projection):
    """One row per issuer Financing knows."""

    name = "invoice_financing_issuers"
    read_models = (ISSUERS,)
    stream_types = (FinancingIssuer.stream_type,)

    @handles(IssuerAdded)
    async def added(self, event: IssuerAdded, ctx: ProjectionContext) -> None:
        """A new row."""
        await ctx.writer(ISSUERS).upsert({"id": ctx.event.stream_id, "name": event.name})


class Bids(Projection):
    """One row per bid, from the investor's and the invoice's events, in global order."""

    name = "invoice_financing_bids"
    read_models = (BIDS,)
    stream_types = (InvestorAccount.stream_type, Invoice.stream_type)

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load the batch's rows in one query."""
        bid_ids = (e.data.get("bid_id") for e in events)
        await ctx.writer(BIDS).load_many(b for b in bid_ids if isinstance(b, str))

    @handles(FundsReserved)
    async def reserved(self, event: FundsReserved, ctx: ProjectionContext) -> None:
        """The investor reserved the bid's amount."""
        await self._note(
            ctx,
            event.bid_id,
            "reserved",
            invoice_id=event.invoice_id,
            investor_id=ctx.event.stream_id,
            amount=event.amount,
        )

    @handles(InvoiceFinanced)
    async def financed(self, event: InvoiceFinanced, ctx: ProjectionContext) -> None:
        """The bid financed its invoice."""
        await self._note(
            ctx,
            event.bid_id,
            "financed",
            invoice_id=ctx.event.stream_id,
            investor_id=event.investor_id,
            amount=event.amount,
        )

    @handles(BidRejected)
    async def rejected(self, event: BidRejected, ctx: ProjectionContext) -> None:
        """The invoice refused the bid; its reason is the bid's."""
        await self._note(
            ctx,
            event.bid_id,
            "rejected",
            invoice_id=ctx.event.stream_id,
            investor_id=event.investor_id,
            reason=event.reason,
        )

    @handles(FundsReleased)
    async def released(self, event: FundsReleased, ctx: ProjectionContext) -> None:
        """The bid's money went back to the investor; a rejection's reason is kept."""
        await self._note(
            ctx,
            event.bid_id,
            "released",
            invoice_id=event.invoice_id,
            investor_id=ctx.event.stream_id,
            amount=event.amount,
            fallback_reason=event.reason,
        )

    @handles(FundsCommitted)
    async def committed(self, event: FundsCommitted, ctx: ProjectionContext) -> None:
        """The bid's money went to the invoice: the bid is financed."""
        await self._note(
            ctx,
            event.bid_id,
            "financed",
            invoice_id=event.invoice_id,
            investor_id=ctx.event.stream_id,
            amount=event.amount,
        )

    async def _note(
        self,
        ctx: ProjectionContext,
        bid_id: str,
        status: BidStatus,
        *,
        invoice_id: str,
        investor_id: str,
        amount: int | None = None,
        reason: str | None = None,
        fallback_reason: str | None = None,
    ) -> None:
        """Fill in the bid's row with what one event knows.

        The status moves only forward; a ``reason`` replaces any other, a
        ``fallback_reason`` is kept only when the row has none.
        """
        rows = ctx.writer(BIDS)
        row = await rows.get(bid_id) or {"bid_id": bid_id, "status": status}
        row["invoice_id"] = invoice_id
        row["investor_id"] = investor_id
        if amount is not None:
            row["amount"] = amount
        if _STAGE[status] >= _STAGE[row["status"]]:
            row["status"] = status
        if reason is not None:
            row["reason"] = reason
        elif row.get("reason") is None:
            row["reason"] = fallback_reason
        await rows.upsert(row)


def projections() -> list[Projection]:
    """Every projection of the service
    (``ESKIT_PROJECTIONS=invoice_financing.projections:projections``)."""
    return [Invoices(), Investors(), Issuers(), Bids()]
