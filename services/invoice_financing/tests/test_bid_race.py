"""Ten investors bid on one invoice at once: exactly one finances it, the others are
compensated, and every balance adds up. On SQLite and on PostgreSQL (four queue workers
there, claiming commands side by side)."""

from __future__ import annotations

import asyncio

import pytest

from eskit.store import EventStoreBackend, has_transactions
from invoice_financing.tests.acceptance import eventually, running

pytestmark = pytest.mark.e2e

BIDDERS = 10
AMOUNT = 700
FUNDS = 1_000


async def test_ten_investors_bidding_at_once_leave_one_financing_and_nine_compensated(
    sql_store: EventStoreBackend,
) -> None:
    assert has_transactions(sql_store)
    async with running(sql_store, queue_workers=4) as service:
        issuer = await service.registered("issuer", "Acme Ltd")
        investors = await asyncio.gather(
            *(service.funded(f"investor {n}", FUNDS) for n in range(BIDDERS))
        )
        invoice = await service.invoice(issuer, AMOUNT)

        accepted = await asyncio.gather(*(service.bid(i, invoice, AMOUNT) for i in investors))
        bids = [await service.settled_bid(a["bidId"]) for a in accepted]

        financed = [b for b in bids if b["status"] == "financed"]
        released = [b for b in bids if b["status"] == "released"]
        assert len(financed) == 1
        assert len(released) == BIDDERS - 1
        assert {b["reason"] for b in released} == {"already_financed"}
        last = await sql_store.last_position()
        row = await service.found(f"/api/v1/invoices/{invoice}", minPosition=last)
        assert (row["status"], row["bidId"]) == ("financed", financed[0]["bidId"])
        for investor in investors:
            balances = await service.found(f"/api/v1/investors/{investor}", minPosition=last)
            held = balances["available"] + balances["reserved"] + balances["financed"]
            assert held == FUNDS
            assert balances["reserved"] == 0
            won = investor == financed[0]["investorId"]
            assert balances["financed"] == (AMOUNT if won else 0)

        async def ended() -> list[str] | None:  # the sagas' last step follows the events
            sagas = await sql_store.committed.sagas.list(saga="financing_bid", limit=100)
            statuses: list[str] = sorted(s.status for s in sagas)
            return statuses if len(statuses) == BIDDERS and "running" not in statuses else None

        assert await eventually(ended) == ["compensated"] * (BIDDERS - 1) + ["completed"]
