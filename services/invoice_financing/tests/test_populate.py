"""The data loader against the whole service served in-process over a SQLite store: the
HTTP app, its queue workers, projections and sagas, the relay and the registrations
consumer on the in-process bus. The loader speaks HTTP to it through an ASGI transport."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import SQLiteEventStore
from invoice_financing.populate import Plan, PopulateError, Summary, app, populate, show
from invoice_financing.service import service

pytestmark = pytest.mark.e2e

PLAN = Plan(issuers=5, investors=8, invoices=30, seed=11, concurrency=8, timeout_s=30)


@pytest.fixture
async def client(sqlite_store: SQLiteEventStore) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the service running over the test's store (no socket, no gRPC)."""
    settings = EskitSettings(database_url="sqlite:///unused.db")
    async with ServiceRuntime(
        service, sqlite_store, settings, grpc_address=None, grace_s=2.0
    ) as runtime:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://financing.test") as http:
            yield http


@pytest.fixture
async def loaded(client: httpx.AsyncClient) -> Summary:
    return await populate(client, PLAN, console=Console(file=io.StringIO()))


async def every(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of a listed read model, page by page."""
    rows: list[dict[str, Any]] = []
    while True:
        answer = await client.get(path, params={**params, "limit": 100, "offset": len(rows)})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        rows += page["items"]
        if not page["hasMore"]:
            return rows


async def test_the_read_models_show_what_was_loaded(
    client: httpx.AsyncClient, loaded: Summary
) -> None:
    assert (len(loaded.issuers), len(loaded.investors), len(loaded.invoices)) == (5, 8, 30)
    issuers = await every(client, "/api/v1/issuers")
    assert {row["id"] for row in issuers} == set(loaded.issuers)

    invoices = {row["id"]: row for row in await every(client, "/api/v1/invoices")}
    assert set(invoices) == set(loaded.invoices)
    statuses = Counter(row["status"] for row in invoices.values())
    assert statuses == loaded.invoice_statuses
    assert statuses["for_sale"] > 0
    assert statuses["financed"] > 0
    for invoice_id, row in invoices.items():
        assert row["amount"] == loaded.invoices[invoice_id]
        assert row["issuerId"] in loaded.issuers
        assert row["currency"] == "EUR"

    financed = loaded.bids_by("financed")
    assert len(financed) == statuses["financed"]  # one financing bid per financed invoice
    for bid in financed:
        assert invoices[bid.invoice_id]["status"] == "financed"
        assert (invoices[bid.invoice_id]["investorId"], invoices[bid.invoice_id]["bidId"]) == (
            bid.investor_id,
            bid.bid_id,
        )

    refused = loaded.bids_by("refused")
    assert refused, "small savers' bids are refused"
    assert {bid.reason for bid in refused} == {"insufficient_funds"}
    assert {bid.investor_id for bid in refused} & set(loaded.small_savers)
    released = loaded.bids_by("released")
    assert released, "a second bid on a financed invoice is rejected, its money released"
    assert {bid.reason for bid in released} <= {"already_financed", "amount_mismatch"}
    assert loaded.refused["insufficient_funds"] == len(refused)


async def test_investor_balances_add_up(client: httpx.AsyncClient, loaded: Summary) -> None:
    investors = {row["id"]: row for row in await every(client, "/api/v1/investors")}
    assert set(investors) == set(loaded.investors)
    assert sum(loaded.deposited.values()) > 0
    assert loaded.withdrawals > 0
    won: Counter[str] = Counter()
    for bid in loaded.bids_by("financed"):
        won[bid.investor_id] += bid.amount
    for investor_id, row in investors.items():
        held = row["available"] + row["reserved"] + row["financed"]
        assert held == loaded.deposited[investor_id] - loaded.withdrawn[investor_id], row
        assert row["reserved"] == 0  # every bid settled
        assert row["financed"] == won[investor_id]
        assert min(row["available"], row["financed"]) >= 0


async def test_every_bid_can_be_read_back(client: httpx.AsyncClient, loaded: Summary) -> None:
    for bid in loaded.bids:
        answer = await client.get(f"/api/v1/bids/{bid.bid_id}")
        if bid.status == "refused":  # nothing was reserved: the read model never saw it
            assert answer.status_code == 404
            continue
        row = answer.json()
        assert (row["status"], row["investorId"], row["invoiceId"]) == (
            bid.status,
            bid.investor_id,
            bid.invoice_id,
        )


async def test_the_summary_is_printed(loaded: Summary) -> None:
    out = io.StringIO()
    show(loaded, Console(file=out, width=120))
    text = out.getvalue()
    assert "30: " in text
    assert "insufficient_funds" in text
    assert f"seed {PLAN.seed}" in text


async def test_an_unreachable_service_is_told_plainly() -> None:
    transport = httpx.MockTransport(lambda request: _refuse(request))
    async with httpx.AsyncClient(transport=transport, base_url="http://nowhere.test") as http:
        with pytest.raises(
            PopulateError, match=r"cannot reach the service at http://nowhere\.test"
        ):
            await populate(http, PLAN, console=Console(file=io.StringIO()))


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_the_command_line_exits_non_zero_when_the_service_is_down() -> None:
    # port 9 (discard) on loopback: nothing listens there, so the connection is refused
    result = CliRunner().invoke(
        app, ["--url", "http://127.0.0.1:9", "--issuers", "1", "--timeout", "5"]
    )
    assert result.exit_code == 1
    assert "cannot reach the service at http://127.0.0.1:9" in result.output
