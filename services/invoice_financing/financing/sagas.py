"""Financing's processes: a bid across an investor's account and an invoice, and an
invoice's sale with its deadline.

**A bid** (keyed by the bid id) starts when an investor's funds are reserved for an
invoice. It asks the invoice to be financed by that bid; the invoice answers with an event
either way. Financed: the reservation is committed and the bid completes. Rejected (another
investor financed it first, it was withdrawn, the amount differs): the reservation is
released (the compensation) and the bid ends ``compensated`` with the invoice's reason.

**A sale** (keyed by the invoice id) starts when an invoice is put up for sale and sets a
deadline at the end of its due date: an invoice nobody financed by then is withdrawn.
Financing it first cancels the deadline.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import UUID

from pydantic import BaseModel

from eskit.process import Saga, SagaInstance, compensates, on
from invoice_financing.financing.commands import (
    CommitFunds,
    FinanceInvoice,
    ReleaseFunds,
    WithdrawInvoice,
)
from invoice_financing.financing.domain import (
    BidRejected,
    FundsCommitted,
    FundsReleased,
    FundsReserved,
    InvoiceFinanced,
    InvoicePutForSale,
    InvoiceWithdrawn,
)

__all__ = ["BidSaga", "BidState", "SaleSaga", "SaleState", "sagas"]

NOT_FINANCED = "not financed by its due date"


class BidState(BaseModel):
    """What a bid's steps need to remember."""

    investor_id: str = ""
    invoice_id: str = ""
    amount: int = 0
    currency: str = ""


class BidSaga(Saga[BidState]):
    """A bid: reserve → finance the invoice → commit, or release when the invoice refuses."""

    name = "financing_bid"
    state_type = BidState

    @on(FundsReserved, starts=True, correlate=lambda e: e.bid_id)
    def reserved(self, saga: SagaInstance[BidState], event: FundsReserved) -> None:
        state = saga.state
        state.investor_id, state.invoice_id = saga.stream_id, event.invoice_id
        state.amount, state.currency = event.amount, event.currency
        saga.send(
            FinanceInvoice(
                aggregate_id=event.invoice_id,
                bid_id=UUID(event.bid_id),
                investor_id=saga.stream_id,
                amount=event.amount,
                currency=event.currency,
            )
        )
        saga.step, saga.reason = "financing", "waiting for the invoice to answer the bid"

    @on(InvoiceFinanced, correlate=lambda e: e.bid_id)
    def financed(self, saga: SagaInstance[BidState], event: InvoiceFinanced) -> None:
        saga.send(CommitFunds(aggregate_id=saga.state.investor_id, bid_id=UUID(event.bid_id)))
        saga.step, saga.reason = "committing", "waiting for the funds to be committed"

    @on(FundsCommitted, correlate=lambda e: e.bid_id)
    def committed(self, saga: SagaInstance[BidState], event: FundsCommitted) -> None:
        saga.step = "financed"
        saga.complete("financed")

    @compensates(BidRejected, correlate=lambda e: e.bid_id)
    def rejected(self, saga: SagaInstance[BidState], event: BidRejected) -> None:
        saga.send(
            ReleaseFunds(
                aggregate_id=saga.state.investor_id,
                bid_id=UUID(event.bid_id),
                reason=event.reason,
            )
        )
        saga.step, saga.reason = "releasing", event.reason

    @on(FundsReleased, correlate=lambda e: e.bid_id)
    def released(self, saga: SagaInstance[BidState], event: FundsReleased) -> None:
        saga.step = "released"
        saga.compensated(event.reason)


class SaleState(BaseModel):
    """What a sale's steps need to remember."""

    issuer_id: str = ""
    due_date: str = ""


def end_of(day: str) -> datetime:
    """The first instant after ``day`` (UTC): when an invoice due that day is withdrawn."""
    return datetime.combine(datetime.fromisoformat(day).date(), time(), UTC) + timedelta(days=1)


class SaleSaga(Saga[SaleState]):
    """An invoice for sale until it is financed, or withdrawn at the end of its due date."""

    name = "financing_sale"
    state_type = SaleState

    @on(InvoicePutForSale, starts=True)
    def put_for_sale(self, saga: SagaInstance[SaleState], event: InvoicePutForSale) -> None:
        saga.state.issuer_id, saga.state.due_date = event.issuer_id, event.due_date.isoformat()
        saga.schedule(
            "withdraw",
            at=end_of(saga.state.due_date),
            command=WithdrawInvoice(aggregate_id=saga.correlation_id, reason=NOT_FINANCED),
        )
        saga.step, saga.reason = "for_sale", f"waiting for a bid until {saga.state.due_date}"

    @on(InvoiceFinanced)
    def financed(self, saga: SagaInstance[SaleState], event: InvoiceFinanced) -> None:
        saga.cancel("withdraw")
        saga.step = "financed"
        saga.complete(f"financed by {event.investor_id}")

    @on(InvoiceWithdrawn)
    def withdrawn(self, saga: SagaInstance[SaleState], event: InvoiceWithdrawn) -> None:
        saga.step = "withdrawn"
        saga.complete(f"withdrawn: {event.reason}")


def sagas() -> list[Saga[BidState] | Saga[SaleState]]:
    """Financing's sagas, for a worker to run beside the projections."""
    return [BidSaga(), SaleSaga()]
