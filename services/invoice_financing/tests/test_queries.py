"""Queries over the read models: by id, lists filtered and paged, and read-your-writes."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from eskit.errors import NotCaughtUpError, NotFoundError
from eskit.projections import ProjectionRunner
from eskit.store import SQLiteEventStore
from invoice_financing.financing import (
    AddIssuer,
    BidOnInvoice,
    DepositFunds,
    FinancingHandlers,
    OpenInvestorAccount,
    PutInvoiceForSale,
    WithdrawInvoice,
)
from invoice_financing.projections import projections
from invoice_financing.queries import FinancingQueries

pytestmark = pytest.mark.integration


async def put(financing: FinancingHandlers, issuer_id: str, due: str, invoice_id: str) -> int:
    if not await financing.issuers.repository.exists(issuer_id):
        await financing.issuers.handle(AddIssuer(aggregate_id=issuer_id, name=issuer_id))
    done = await financing.invoices.handle(
        PutInvoiceForSale(
            aggregate_id=invoice_id,
            issuer_id=issuer_id,
            amount=1000,
            currency="EUR",
            due_date=date.fromisoformat(due),
        )
    )
    return done.position


async def test_invoices_by_id_and_listed_by_status_and_issuer(
    sqlite_store: SQLiteEventStore, financing: FinancingHandlers
) -> None:
    queries = FinancingQueries(sqlite_store)
    async with ProjectionRunner(sqlite_store, projections()):
        await put(financing, "issuer-1", "2030-05-01", "inv-a")
        await put(financing, "issuer-1", "2030-01-01", "inv-b")
        await put(financing, "issuer-2", "2030-03-01", "inv-c")
        await put(financing, "issuer-1", "2030-02-01", "inv-d")
        done = await financing.invoices.handle(WithdrawInvoice(aggregate_id="inv-d", reason="x"))

        row = await queries.get_invoice("inv-a", at_least_position=done.position)
        assert (row["issuer_id"], row["due_date"], row["status"]) == (
            "issuer-1",
            "2030-05-01",
            "for_sale",
        )
        everything = await queries.list_invoices()
        assert [r["id"] for r in everything.items] == ["inv-b", "inv-d", "inv-c", "inv-a"]
        assert (everything.total, everything.has_more) == (4, False)

        for_sale = await queries.list_invoices(status="for_sale")
        assert [r["id"] for r in for_sale.items] == ["inv-b", "inv-c", "inv-a"]
        of_issuer = await queries.list_invoices(issuer_id="issuer-1")
        assert [r["id"] for r in of_issuer.items] == ["inv-b", "inv-d", "inv-a"]
        both = await queries.list_invoices(status="for_sale", issuer_id="issuer-1")
        assert [r["id"] for r in both.items] == ["inv-b", "inv-a"]
        withdrawn = await queries.list_invoices(status="withdrawn")
        assert [r["id"] for r in withdrawn.items] == ["inv-d"]
        assert (await queries.list_invoices(status="financed")).total == 0

        page = await queries.list_invoices(issuer_id="issuer-1", limit=2, offset=1)
        assert [r["id"] for r in page.items] == ["inv-d", "inv-a"]
        assert (page.total, page.limit, page.offset, page.has_more) == (3, 2, 1, False)
        first = await queries.list_invoices(limit=2)
        assert (len(first.items), first.total, first.has_more) == (2, 4, True)

        with pytest.raises(NotFoundError):
            await queries.get_invoice("nobody")


async def test_investors_issuers_and_bids(
    sqlite_store: SQLiteEventStore, financing: FinancingHandlers
) -> None:
    queries = FinancingQueries(sqlite_store)
    async with ProjectionRunner(sqlite_store, projections()):
        for issuer_id, name in [("issuer-1", "Zeta"), ("issuer-2", "Acme"), ("issuer-3", "Mu")]:
            await financing.issuers.handle(AddIssuer(aggregate_id=issuer_id, name=name))
        for investor_id, name in [("investor-1", "Bob"), ("investor-2", "Ada")]:
            await financing.investors.handle(
                OpenInvestorAccount(aggregate_id=investor_id, name=name, currency="EUR")
            )
        await financing.investors.handle(
            DepositFunds(aggregate_id="investor-1", amount=900, currency="EUR")
        )
        await put(financing, "issuer-1", "2030-05-01", "inv-a")
        bid_id = uuid.uuid4()
        done = await financing.investors.handle(
            BidOnInvoice(
                aggregate_id="investor-1",
                invoice_id="inv-a",
                amount=300,
                currency="EUR",
                bid_id=bid_id,
            )
        )

        investor = await queries.get_investor("investor-1", at_least_position=done.position)
        assert (investor["available"], investor["reserved"], investor["financed"]) == (600, 300, 0)
        investors = await queries.list_investors(at_least_position=done.position)
        assert [r["name"] for r in investors.items] == ["Ada", "Bob"]
        assert investors.total == 2

        issuers = await queries.list_issuers(at_least_position=done.position)
        assert [r["name"] for r in issuers.items] == ["Acme", "Mu", "Zeta"]
        assert [r["id"] for r in (await queries.list_issuers(limit=1, offset=2)).items] == [
            "issuer-1"
        ]

        found = await queries.get_bid(str(bid_id), at_least_position=done.position)
        assert (found["status"], found["amount"], found["investor_id"]) == (
            "reserved",
            300,
            "investor-1",
        )
        with pytest.raises(NotFoundError):
            await queries.get_bid(str(uuid.uuid4()))
        with pytest.raises(NotFoundError):
            await queries.get_investor("nobody")


async def test_read_your_writes_by_position_and_by_version(
    sqlite_store: SQLiteEventStore, financing: FinancingHandlers
) -> None:
    queries = FinancingQueries(sqlite_store, timeout_s=2.0)
    runner = ProjectionRunner(sqlite_store, projections())
    await runner.prepare()  # tables exist, but nothing projects yet: the read models lag
    opened = await financing.investors.handle(
        OpenInvestorAccount(aggregate_id="investor-1", name="Ada")
    )
    with pytest.raises(NotFoundError):
        await queries.get_investor("investor-1")
    with pytest.raises(NotCaughtUpError):
        await queries.get_investor("investor-1", at_least_position=opened.position, timeout_s=0.05)
    with pytest.raises(NotCaughtUpError):
        await queries.get_investor("investor-1", min_version=1, timeout_s=0.05)
    with pytest.raises(NotCaughtUpError):
        await queries.list_investors(at_least_position=opened.position, timeout_s=0.05)

    async with runner:
        deposited = await financing.investors.handle(
            DepositFunds(aggregate_id="investor-1", amount=5, currency="EUR")
        )
        row = await queries.get_investor("investor-1", min_version=deposited.version)
        assert row["available"] == 5
        row = await queries.get_investor("investor-1", at_least_position=deposited.position)
        assert row["available"] == 5
        await financing.issuers.handle(AddIssuer(aggregate_id="issuer-1", name="Acme"))
        put = await financing.invoices.handle(
            PutInvoiceForSale(
                issuer_id="issuer-1", amount=10, currency="EUR", due_date=date(2030, 1, 1)
            )
        )
        row = await queries.get_invoice(put.aggregate_id, min_version=1)
        assert row["status"] == "for_sale"
        with pytest.raises(NotCaughtUpError):
            await queries.get_invoice(put.aggregate_id, min_version=2, timeout_s=0.05)
        with pytest.raises(NotFoundError):
            await queries.get_invoice("nobody", min_version=1)
        with pytest.raises(NotCaughtUpError):
            await queries.get_bid("b", at_least_position=put.position + 10**9, timeout_s=0.05)
