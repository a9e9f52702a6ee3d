"""A bid is one trace: its request, the queued command, the saga's steps and the commands
the saga queues, however the batches in between were cut."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from eskit.store import SQLiteEventStore
from eskit.testing.tracing import SpanTree, capture_spans
from invoice_financing.tests.acceptance import running

pytestmark = pytest.mark.integration


async def test_a_bid_is_one_trace_through_the_queue_and_the_saga(
    sqlite_store: SQLiteEventStore,
) -> None:
    with capture_spans() as exporter:
        async with running(sqlite_store) as service:
            issuer = await service.registered("issuer", "Acme Ltd")
            investor = await service.funded("Ada", 5_000)
            invoice = await service.invoice(issuer, 1_200)
            accepted = await service.bid(investor, invoice, 1_200)
            assert (await service.settled_bid(accepted["bidId"]))["status"] == "financed"
        spans = list(exporter.get_finished_spans())

    tree = SpanTree.of(spans, "queued BidOnInvoice")
    request = tree.root()
    assert request.name == "POST /api/v1/invoices/{invoice_id}/bids"
    queued = tree.one("queued BidOnInvoice")
    assert tree.parent_of(queued) is request
    assert tree.parent_of(tree.one("command BidOnInvoice")) is queued
    # FundsReserved starts the saga; it finances the invoice, then commits the funds
    steps = tree.named("saga financing_bid")
    assert len(steps) == 3, tree.names()
    for name in ("FinanceInvoice", "CommitFunds"):
        issued = tree.one(f"queued {name}")
        assert _ancestors(tree, issued)[-1] is request
        assert tree.parent_of(issued) in steps
        assert tree.parent_of(tree.one(f"command {name}")) is issued
    assert all(s.status.status_code is not StatusCode.ERROR for s in tree.spans)


def _ancestors(tree: SpanTree, span: ReadableSpan) -> list[ReadableSpan]:
    found = []
    parent = tree.parent_of(span)
    while parent is not None:
        found.append(parent)
        parent = tree.parent_of(parent)
    return found
