"""Acceptance tests against the running service, in the seed's style: commands in, the
expected events out on the bus in order (a test subscription); events in on the bus, the
expected answers from the query side. On SQLite with the in-process bus, and on PostgreSQL
with NATS JetStream (the Kafka adapter passes the same bus contract; its consumer groups take
seconds to join, which would double this file's time)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eskit.messaging.envelope import event_message
from eskit.store import SQLiteEventStore
from eskit.store.urls import open_store
from eskit.testing.brokers import NatsServer
from invoice_financing.published import InvestorRegistered, IssuerRegistered, registration_stream
from invoice_financing.tests.acceptance import BusSubscription, Running, eventually, running

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite+inprocess", "postgres+nats"])
async def service(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Running]:
    """The service running on one of the store and bus pairs."""
    if request.param == "sqlite+inprocess":
        async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite, running(sqlite) as it:
            yield it
        return
    url = request.getfixturevalue("postgres_url")
    broker: NatsServer = request.getfixturevalue("nats_server")
    prefix = f"acc{uuid.uuid4().hex[:8]}"  # brokers are shared by the session: topics of its own
    async with open_store(url) as store, running(store, broker.url, prefix=prefix) as it:
        yield it


def _of(bid_id: str) -> Any:
    return lambda m: m["data"].get("bid_id") == bid_id


async def test_a_bid_finances_an_invoice_and_the_bus_shows_its_events_in_order(
    service: Running,
) -> None:
    issuer = await service.registered("issuer", "Acme Ltd")
    investor = await service.funded("Ada", 5_000)
    invoice = await service.invoice(issuer, 1_200)
    async with BusSubscription(service.bus, f"acceptance-{uuid.uuid4().hex[:6]}") as bus:
        accepted = await service.bid(investor, invoice, 1_200)
        bid_id = accepted["bidId"]

        events = await bus.wait_for(_of(bid_id), 3)

    assert [e["eskit-event-type"] for e in events] == [
        "financing.FundsReserved",
        "financing.InvoiceFinanced",
        "financing.FundsCommitted",
    ]
    positions = [int(e["eskit-position"]) for e in events]
    assert positions == sorted(positions)
    assert (await service.settled_bid(bid_id))["status"] == "financed"
    done = await service.done(accepted)
    investor_row = await service.found(
        f"/api/v1/investors/{investor}", minPosition=done["position"]
    )
    await service.found(f"/api/v1/invoices/{invoice}", minPosition=positions[-1])
    invoice_row = (await service.client.get(f"/api/v1/invoices/{invoice}")).json()
    assert invoice_row["status"] == "financed"
    assert invoice_row["investorId"] == investor
    final = await service.found(f"/api/v1/investors/{investor}", minPosition=positions[-1])
    assert (final["available"], final["reserved"], final["financed"]) == (3_800, 0, 1_200)
    assert investor_row["available"] + investor_row["reserved"] + investor_row["financed"] == 5_000


async def test_a_bid_on_a_financed_invoice_is_compensated_and_answers_why(
    service: Running,
) -> None:
    issuer = await service.registered("issuer", "Acme Ltd")
    first = await service.funded("Ada", 2_000)
    second = await service.funded("Bob", 2_000)
    invoice = await service.invoice(issuer, 900)
    won = await service.bid(first, invoice, 900)
    assert (await service.settled_bid(won["bidId"]))["status"] == "financed"
    async with BusSubscription(service.bus, f"acceptance-{uuid.uuid4().hex[:6]}") as bus:
        lost = await service.bid(second, invoice, 900)

        events = await bus.wait_for(_of(lost["bidId"]), 3)

    assert [e["eskit-event-type"] for e in events] == [
        "financing.FundsReserved",
        "financing.BidRejected",
        "financing.FundsReleased",
    ]
    bid = await service.settled_bid(lost["bidId"])
    assert (bid["status"], bid["reason"]) == ("released", "already_financed")
    row = await service.found(
        f"/api/v1/investors/{second}", minPosition=int(events[-1]["eskit-position"])
    )
    assert (row["available"], row["reserved"], row["financed"]) == (2_000, 0, 0)


async def test_a_bid_beyond_the_investors_funds_is_refused_with_its_reason(
    service: Running,
) -> None:
    issuer = await service.registered("issuer", "Acme Ltd")
    investor = await service.funded("Ada", 100)
    invoice = await service.invoice(issuer, 900)

    refused = await service.done(await service.bid(investor, invoice, 900), status="refused")

    assert refused["error"]["code"] == "insufficient_funds"
    row = (await service.client.get(f"/api/v1/invoices/{invoice}")).json()
    assert row["status"] == "for_sale"


async def test_an_invoice_of_an_issuer_financing_does_not_know_is_refused(
    service: Running,
) -> None:
    body = {"issuerId": "nobody", "amount": 100, "currency": "EUR", "dueDate": "2031-01-01"}

    refused = await service.done(
        await service.accepted("POST", "/api/v1/invoices", body), status="refused"
    )

    assert refused["error"]["code"] == "unknown_issuer"


async def test_an_invoice_nobody_finances_by_its_due_date_is_withdrawn(service: Running) -> None:
    issuer = await service.registered("issuer", "Acme Ltd")
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()

    invoice = await service.invoice(issuer, 500, due=yesterday)

    async def withdrawn() -> dict[str, Any] | None:
        row = (await service.client.get(f"/api/v1/invoices/{invoice}")).json()
        return row if row.get("status") == "withdrawn" else None

    assert (await eventually(withdrawn))["dueDate"] == yesterday


async def test_registrations_published_on_the_bus_are_answered_by_the_query_side(
    service: Running, tmp_path: Path
) -> None:
    investor, issuer = str(uuid.uuid4()), str(uuid.uuid4())
    async with SQLiteEventStore.open(tmp_path / "registering.db") as registering:
        await registering.append(
            registration_stream(investor),
            [InvestorRegistered(name="Grace")],
            expected_version=0,
            stream_type="registering.Investor",
        )
        await registering.append(
            registration_stream(issuer),
            [IssuerRegistered(name="Initech")],
            expected_version=0,
            stream_type="registering.Issuer",
        )
        published = [event_message(e) async for e in registering.read_all()]

    await service.bus.publish(published)
    await service.bus.publish(published)  # delivered twice: applied once

    row = await service.found(f"/api/v1/investors/{investor}")
    assert (row["name"], row["available"], row["reserved"], row["financed"]) == ("Grace", 0, 0, 0)
    issuers = await service.found("/api/v1/issuers", limit=100)
    assert any(i["id"] == issuer and i["name"] == "Initech" for i in issuers["items"])
    queued = await service.runtime.store.committed.queue.list(limit=1000)  # type: ignore[attr-defined]
    assert sorted(c.command_type for c in queued) == ["AddIssuer", "OpenInvestorAccount"]


async def test_a_bid_on_an_invoice_that_does_not_exist_is_refused_and_reserves_nothing(
    service: Running,
) -> None:
    investor = await service.funded("Ada", 1_000)

    refused = await service.done(await service.bid(investor, "no-such-invoice", 500), "refused")

    assert refused["error"]["code"] == "unknown_invoice"
    head = await service.runtime.store.last_position()
    row = await service.found(f"/api/v1/investors/{investor}", minPosition=head)
    assert (row["available"], row["reserved"]) == (1_000, 0)
