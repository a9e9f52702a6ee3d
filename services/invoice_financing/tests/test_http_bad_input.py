"""Bad input at the service's door: each refused with a typed error naming what was wrong,
and nothing queued or written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eskit.store import SQLiteEventStore
from invoice_financing.tests.acceptance import Running, running

pytestmark = pytest.mark.e2e

JSON = {"content-type": "application/json"}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Running]:
    """The service with no queue worker (what is queued stays there) and a small queue."""
    async with (
        SQLiteEventStore.open(tmp_path / "events.db") as store,
        running(store, queue_workers=0, queue_max_waiting=3, max_body_bytes=4096) as it,
    ):
        yield it


async def nothing_written(service: Running) -> None:
    store = service.runtime.store
    assert await store.last_position() == 0
    assert await store.committed.queue.list() == []  # type: ignore[attr-defined]


async def test_malformed_json_is_refused_and_nothing_is_queued(service: Running) -> None:
    answer = await service.client.post("/api/v1/issuers", content=b'{"name": ', headers=JSON)

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_json"
    await nothing_written(service)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/investors/i-1/deposits", {"amount": -5, "currency": "EUR"}, "amount"),
        ("/api/v1/investors/i-1/deposits", {"amount": 5, "currency": "euro"}, "currency"),
        ("/api/v1/investors/i-1/deposits", {"amount": 5.5, "currency": "EUR"}, "amount"),
        ("/api/v1/issuers", {"name": "   "}, "name"),
        ("/api/v1/issuers", {"name": "Acme", "admin": True}, "admin"),
        (
            "/api/v1/invoices",
            {"issuerId": "x", "amount": 5, "currency": "EUR", "dueDate": "31/01/2031"},
            "dueDate",
        ),
        ("/api/v1/invoices/v-1/bids", {"investorId": "i", "amount": 5}, "currency"),
        (
            "/api/v1/invoices/v-1/bids",
            {"investorId": "i", "amount": 5, "currency": "EUR", "bidId": "not-a-uuid"},
            "bidId",
        ),
    ],
)
async def test_a_command_with_bad_fields_is_refused_naming_them_and_nothing_is_queued(
    service: Running, path: str, body: dict[str, object], field: str
) -> None:
    answer = await service.client.post(path, json=body)

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] in ("invalid_command", "validation_error")
    assert any(field in [str(p) for p in d["loc"]] for d in error["details"]), error
    await nothing_written(service)


async def test_an_unknown_command_type_is_refused_listing_the_known_ones(
    service: Running,
) -> None:
    answer = await service.client.post(
        "/api/v1/commands", json={"type": "PayEveryone", "amount": 1}
    )

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "unknown_command_type"
    assert "PayEveryone" in error["message"]
    assert "BidOnInvoice" in error["message"]
    await nothing_written(service)


async def test_a_body_that_is_not_json_by_its_type_is_refused(service: Running) -> None:
    answer = await service.client.post(
        "/api/v1/issuers", content=b"name=Acme", headers={"content-type": "text/plain"}
    )

    assert answer.status_code == 415
    await nothing_written(service)


async def test_an_oversized_body_is_refused(service: Running) -> None:
    answer = await service.client.post("/api/v1/issuers", json={"name": "x" * 10_000})

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    await nothing_written(service)


async def test_a_full_queue_answers_429_with_retry_after_and_queues_no_more(
    service: Running,
) -> None:
    for n in range(3):
        await service.accepted("POST", "/api/v1/issuers", {"name": f"issuer {n}"})

    answer = await service.client.post("/api/v1/issuers", json={"name": "one too many"})

    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "queue_full"
    assert int(answer.headers["retry-after"]) >= 1
    assert len(await service.runtime.store.committed.queue.list()) == 3  # type: ignore[attr-defined]


async def test_the_status_of_an_unknown_command_is_not_found(service: Running) -> None:
    missing = await service.client.get(f"/api/v1/commands/{uuid.uuid4()}")
    malformed = await service.client.get("/api/v1/commands/not-an-id")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "command_not_found"
    assert malformed.status_code == 422


async def test_a_query_of_an_unknown_invoice_is_not_found(service: Running) -> None:
    answer = await service.client.get("/api/v1/invoices/nope")

    assert answer.status_code == 404


async def test_a_command_only_sagas_send_cannot_be_queued_by_a_client(service: Running) -> None:
    body = {"type": "FinanceInvoice", "aggregate_id": "v-1", "bid_id": str(uuid.uuid4())}

    answer = await service.client.post(
        "/api/v1/commands", json={**body, "investor_id": "i", "amount": 5, "currency": "EUR"}
    )

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "unknown_command_type"
    assert "FinanceInvoice" in error["message"]
    assert "BidOnInvoice" in error["message"]
    await nothing_written(service)
