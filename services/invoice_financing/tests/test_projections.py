"""The read models on a real SQLite store: each table, and bids whose events come from two
streams in whatever order the global log holds them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import date

import pytest

from eskit.domain import Event
from eskit.projections import ProjectionRunner
from eskit.store import ANY, SQLiteEventStore
from invoice_financing.financing import (
    AddIssuer,
    BidOnInvoice,
    BidRejected,
    CommitFunds,
    DepositFunds,
    FinanceInvoice,
    FinancingHandlers,
    FundsCommitted,
    FundsReleased,
    FundsReserved,
    InvestorAccount,
    Invoice,
    InvoiceFinanced,
    OpenInvestorAccount,
    PutInvoiceForSale,
    ReleaseFunds,
    WithdrawInvoice,
)
from invoice_financing.projections import BIDS, INVESTORS, INVOICES, ISSUERS, Bids, projections

pytestmark = pytest.mark.integration


async def caught_up(store: SQLiteEventStore) -> None:
    runner = ProjectionRunner(store, projections())
    await runner.prepare()
    await runner.catch_up()


async def bid(
    financing: FinancingHandlers, investor_id: str, invoice_id: str, amount: int
) -> uuid.UUID:
    """A bid answered as the saga will: reserve, ask the invoice, commit or release."""
    bid_id = uuid.uuid4()
    await financing.investors.handle(
        BidOnInvoice(
            aggregate_id=investor_id,
            invoice_id=invoice_id,
            amount=amount,
            currency="EUR",
            bid_id=bid_id,
        )
    )
    await financing.invoices.handle(
        FinanceInvoice(
            aggregate_id=invoice_id,
            bid_id=bid_id,
            investor_id=investor_id,
            amount=amount,
            currency="EUR",
        )
    )
    invoice = await financing.invoices.repository.load(invoice_id)
    if invoice.bid_id == str(bid_id):
        await financing.investors.handle(CommitFunds(aggregate_id=investor_id, bid_id=bid_id))
    else:
        await financing.investors.handle(
            ReleaseFunds(aggregate_id=investor_id, bid_id=bid_id, reason="rejected")
        )
    return bid_id


async def invoice(financing: FinancingHandlers, issuer_id: str, amount: int, due: str) -> str:
    put = await financing.invoices.handle(
        PutInvoiceForSale(
            issuer_id=issuer_id, amount=amount, currency="EUR", due_date=date.fromisoformat(due)
        )
    )
    return put.aggregate_id


async def test_every_read_model_follows_the_commands(
    sqlite_store: SQLiteEventStore, financing: FinancingHandlers
) -> None:
    await financing.issuers.handle(AddIssuer(aggregate_id="issuer-1", name="Acme"))
    await financing.issuers.handle(AddIssuer(aggregate_id="issuer-2", name="Beta"))
    for investor_id, name in [("investor-1", "Ada"), ("investor-2", "Bob")]:
        await financing.investors.handle(OpenInvestorAccount(aggregate_id=investor_id, name=name))
        await financing.investors.handle(
            DepositFunds(aggregate_id=investor_id, amount=10_000, currency="EUR")
        )
    a = await invoice(financing, "issuer-1", 5000, "2030-03-01")
    b = await invoice(financing, "issuer-1", 3000, "2030-01-15")
    c = await invoice(financing, "issuer-2", 2000, "2030-02-01")
    won = await bid(financing, "investor-1", a, 5000)
    late = await bid(financing, "investor-2", a, 5000)
    short = await bid(financing, "investor-2", b, 2500)
    open_bid = uuid.uuid4()
    await financing.investors.handle(
        BidOnInvoice(
            aggregate_id="investor-1", invoice_id=c, amount=2000, currency="EUR", bid_id=open_bid
        )
    )
    await financing.invoices.handle(WithdrawInvoice(aggregate_id=c, reason="paid"))
    await caught_up(sqlite_store)

    row = await INVOICES.get(sqlite_store, a)
    assert row is not None
    last = (await sqlite_store.read_stream(a))[-1]
    assert row == {
        "id": a,
        "issuer_id": "issuer-1",
        "amount": 5000,
        "currency": "EUR",
        "due_date": "2030-03-01",
        "status": "financed",
        "investor_id": "investor-1",
        "bid_id": str(won),
        "updated_at": last.recorded_at,
    }
    assert last.event_type == "financing.BidRejected"  # the late bid's answer
    statuses = {r["id"]: r["status"] for r in await INVOICES.select(sqlite_store)}
    assert statuses == {a: "financed", b: "for_sale", c: "withdrawn"}
    b_row = await INVOICES.get(sqlite_store, b)
    assert b_row is not None
    assert (b_row["investor_id"], b_row["bid_id"]) == (None, None)

    assert await INVESTORS.select(sqlite_store) == [
        {
            "id": "investor-1",
            "name": "Ada",
            "currency": "EUR",
            "available": 3000,
            "reserved": 2000,
            "financed": 5000,
        },
        {
            "id": "investor-2",
            "name": "Bob",
            "currency": "EUR",
            "available": 10_000,
            "reserved": 0,
            "financed": 0,
        },
    ]
    assert await ISSUERS.select(sqlite_store) == [
        {"id": "issuer-1", "name": "Acme"},
        {"id": "issuer-2", "name": "Beta"},
    ]

    bids = {r["bid_id"]: r for r in await BIDS.select(sqlite_store)}
    assert bids == {
        str(won): {
            "bid_id": str(won),
            "invoice_id": a,
            "investor_id": "investor-1",
            "amount": 5000,
            "status": "financed",
            "reason": None,
        },
        str(late): {
            "bid_id": str(late),
            "invoice_id": a,
            "investor_id": "investor-2",
            "amount": 5000,
            "status": "released",
            "reason": "already_financed",
        },
        str(short): {
            "bid_id": str(short),
            "invoice_id": b,
            "investor_id": "investor-2",
            "amount": 2500,
            "status": "released",
            "reason": "amount_mismatch",
        },
        str(open_bid): {
            "bid_id": str(open_bid),
            "invoice_id": c,
            "investor_id": "investor-1",
            "amount": 2000,
            "status": "reserved",
            "reason": None,
        },
    }


async def test_a_rejected_bid_is_rejected_until_its_money_is_released(
    sqlite_store: SQLiteEventStore, financing: FinancingHandlers
) -> None:
    await financing.issuers.handle(AddIssuer(aggregate_id="issuer-1", name="Acme"))
    await financing.investors.handle(OpenInvestorAccount(aggregate_id="investor-1", name="Ada"))
    await financing.investors.handle(
        DepositFunds(aggregate_id="investor-1", amount=100, currency="EUR")
    )
    a = await invoice(financing, "issuer-1", 50, "2030-01-01")
    bid_id = uuid.uuid4()
    await financing.investors.handle(
        BidOnInvoice(
            aggregate_id="investor-1", invoice_id=a, amount=40, currency="EUR", bid_id=bid_id
        )
    )
    await caught_up(sqlite_store)
    row = await BIDS.get(sqlite_store, str(bid_id))
    assert row is not None
    assert (row["status"], row["reason"]) == ("reserved", None)
    await financing.invoices.handle(
        FinanceInvoice(
            aggregate_id=a, bid_id=bid_id, investor_id="investor-1", amount=40, currency="EUR"
        )
    )
    await caught_up(sqlite_store)
    row = await BIDS.get(sqlite_store, str(bid_id))
    assert row is not None
    assert (row["status"], row["reason"], row["amount"]) == ("rejected", "amount_mismatch", 40)
    await financing.investors.handle(
        ReleaseFunds(aggregate_id="investor-1", bid_id=bid_id, reason="timed out")
    )
    await caught_up(sqlite_store)
    row = await BIDS.get(sqlite_store, str(bid_id))
    assert row is not None
    assert (row["status"], row["reason"]) == ("released", "amount_mismatch")


INVESTOR, INVOICE = InvestorAccount.stream_type, Invoice.stream_type
Path = Callable[[str], list[tuple[str, Event]]]
"""The events of one bid, by the stream type they are appended to."""


def financed_path(bid_id: str) -> list[tuple[str, Event]]:
    return [
        (INVESTOR, FundsReserved(bid_id=bid_id, invoice_id="invoice-1", amount=70, currency="EUR")),
        (INVOICE, InvoiceFinanced(bid_id=bid_id, investor_id="investor-1", amount=70)),
        (INVESTOR, FundsCommitted(bid_id=bid_id, invoice_id="invoice-1", amount=70)),
    ]


def rejected_path(bid_id: str) -> list[tuple[str, Event]]:
    return [
        (INVESTOR, FundsReserved(bid_id=bid_id, invoice_id="invoice-1", amount=70, currency="EUR")),
        (INVOICE, BidRejected(bid_id=bid_id, investor_id="investor-1", reason="withdrawn")),
        (
            INVESTOR,
            FundsReleased(bid_id=bid_id, invoice_id="invoice-1", amount=70, reason="rejected"),
        ),
    ]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [(financed_path, "financed", None), (rejected_path, "released", "withdrawn")],
)
async def test_a_bid_row_ends_the_same_whatever_order_its_streams_events_arrive_in(
    sqlite_store: SQLiteEventStore, path: Path, status: str, reason: str | None
) -> None:
    expected = {}
    for n, order in enumerate(itertools.permutations(range(3))):
        bid_id = f"bid-{n}"
        events = path(bid_id)
        for index in order:
            stream_type, event = events[index]
            stream_id = "investor-1" if stream_type == INVESTOR else "invoice-1"
            await sqlite_store.append(
                stream_id, [event], expected_version=ANY, stream_type=stream_type
            )
        expected[bid_id] = {
            "bid_id": bid_id,
            "invoice_id": "invoice-1",
            "investor_id": "investor-1",
            "amount": 70,
            "status": status,
            "reason": reason,
        }
    runner = ProjectionRunner(sqlite_store, [Bids()])
    await runner.prepare()
    await runner.catch_up()
    assert {r["bid_id"]: r for r in await BIDS.select(sqlite_store)} == expected


async def test_a_rejection_alone_makes_a_row_without_an_amount(
    sqlite_store: SQLiteEventStore,
) -> None:
    rejected = BidRejected(bid_id="bid-9", investor_id="investor-9", reason="already_financed")
    await sqlite_store.append("invoice-9", [rejected], expected_version=ANY, stream_type=INVOICE)
    runner = ProjectionRunner(sqlite_store, [Bids()])
    await runner.prepare()
    await runner.catch_up()
    assert await BIDS.get(sqlite_store, "bid-9") == {
        "bid_id": "bid-9",
        "invoice_id": "invoice-9",
        "investor_id": "investor-9",
        "amount": None,
        "status": "rejected",
        "reason": "already_financed",
    }
