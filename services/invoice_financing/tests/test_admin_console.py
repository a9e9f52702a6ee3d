"""The admin console over the invoice-financing service (SQLite, the in-process bus): its
sagas as processes that cannot be rebuilt, their instances by status, the relay and the
consumer running here, and an invoice's state as of any version."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eskit.store import SQLiteEventStore
from invoice_financing.tests.acceptance import Running, eventually, running

pytestmark = pytest.mark.e2e

BID_SAGA = "financing_bid"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Running]:
    async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite, running(sqlite) as it:
        yield it


async def financed(service: Running) -> str:
    """An invoice financed by one bid (its saga completed); the invoice's id."""
    issuer = await service.registered("issuer", "Acme Ltd")
    investor = await service.funded("Ada", 5_000)
    invoice = await service.invoice(issuer, 1_200)
    bid = await service.bid(investor, invoice, 1_200)
    assert (await service.settled_bid(bid["bidId"]))["status"] == "financed"
    return invoice


async def test_sagas_are_listed_as_processes_without_a_rebuild_button(service: Running) -> None:
    page = await service.client.get("/admin/projections")

    row = re.search(rf'<tr id="projection-{BID_SAGA}">(.*?)</tr>', page.text, flags=re.S)
    assert row, page.text
    assert "<td>process</td>" in row.group(1)
    assert "Rebuild" not in row.group(1)


async def test_a_saga_cannot_be_rebuilt_from_the_console(service: Running) -> None:
    confirm = await service.client.get(
        "/admin/projections/confirm", params={"action": "rebuild", "name": BID_SAGA}
    )
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', confirm.text)
    assert token

    refused = await service.client.post(
        "/admin/projections/rebuild", data={"csrf": token.group(1), "name": BID_SAGA}
    )

    assert refused.status_code == 409
    assert f"{BID_SAGA} cannot be rebuilt" in refused.text


async def test_the_sagas_page_counts_a_completed_bid(service: Running) -> None:
    await financed(service)

    async def counted() -> list[str] | None:
        page = await service.client.get("/admin/sagas")
        counts = re.search(rf"<tr><td>{BID_SAGA}</td>(.*?)</tr>", page.text, flags=re.S)
        cells = re.findall(r'<td class="num">(\d+)</td>', counts.group(1)) if counts else []
        # the bid is financed before its saga's last step (committing the funds) is done
        return cells if cells and cells[0] == "0" else None

    # running, compensating, compensated, failed, completed
    assert await eventually(counted) == ["0", "0", "0", "0", "1"]


async def test_the_relay_and_the_consumer_run_here(service: Running) -> None:
    await financed(service)

    page = await service.client.get("/admin/messaging")

    assert "this process" in page.text
    assert re.search(
        r'<tr id="consumer-[^"]+"><td>[^<]+</td><td><span class="state live">', page.text
    )


async def test_an_invoice_shows_its_state_as_of_each_version(service: Running) -> None:
    invoice = await financed(service)

    first = await service.client.get("/admin/stream", params={"id": invoice, "version": 1})
    now = await service.client.get("/admin/stream", params={"id": invoice})

    assert "Invoice at version 1" in first.text
    assert "&#34;status&#34;: &#34;financed&#34;" in now.text
    assert "&#34;status&#34;: &#34;financed&#34;" not in first.text
