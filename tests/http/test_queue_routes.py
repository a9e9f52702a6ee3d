"""The command queue over HTTP: 202 with a status URL, the status before and after a worker
ran, and every way a submission is refused before anything is queued.

The app is eskit's own (``create_app``) with the queue's router and one route of the test's
that builds a withdrawal and answers ``accept_command``; a worker drains the queue between
calls, as one running beside the server would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Request, Response

from eskit.http import JsonBodyRoute, create_app
from eskit.http.queue import accept_command, command_queue_router
from eskit.process import CommandDispatcher, CommandQueue, QueueWorker
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions
from eskit.store.queue import QueuedCommand
from tests.wallets.domain import Deposit, OpenWallet, RenameOwner, Withdraw, build_handler

pytestmark = pytest.mark.integration

MAX_BODY_BYTES = 4096


@dataclass
class Api:
    """The app's client, the queue it submits to, a worker, and a wallet with 100 in it."""

    client: httpx.AsyncClient
    store: EventStoreBackend
    queue: CommandQueue
    worker: QueueWorker
    wallet_id: str

    async def withdraw(self, amount: Any, **headers: str) -> httpx.Response:
        body = {"amount": amount, "payment_id": f"p-{uuid.uuid4()}"}
        return await self.client.post(
            f"/wallets/{self.wallet_id}/withdrawals", json=body, headers=headers
        )

    async def queued(self) -> list[QueuedCommand]:
        return await require_transactions(self.store, "queue").committed.queue.list()


def withdrawals_router(queue: CommandQueue) -> APIRouter:
    router = APIRouter(route_class=JsonBodyRoute)

    @router.post("/wallets/{wallet_id}/withdrawals", status_code=202)
    async def withdraw(wallet_id: str, body: dict[str, Any], request: Request) -> Response:
        command = Withdraw.parse({"aggregate_id": wallet_id, **body})
        return await accept_command(request, queue, command)

    return router


async def _api(store: EventStoreBackend, **queue_options: Any) -> AsyncIterator[Api]:
    handler = build_handler(store)
    wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=100))).aggregate_id
    dispatcher = CommandDispatcher.of([handler])
    queue = CommandQueue(store, dispatcher, **queue_options)
    settings = EskitSettings(max_body_bytes=MAX_BODY_BYTES)
    app = create_app(
        store,
        [
            command_queue_router(queue, submittable=[Deposit, Withdraw, OpenWallet, RenameOwner]),
            withdrawals_router(queue),
        ],
        settings=settings,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://wallets.test") as client:
        yield Api(client, store, queue, QueueWorker(store, dispatcher), wallet_id)


@pytest_asyncio.fixture
async def api(sql_store: EventStoreBackend) -> AsyncIterator[Api]:
    async for made in _api(sql_store):
        yield made


@pytest_asyncio.fixture
async def small_api(sql_store: EventStoreBackend) -> AsyncIterator[Api]:
    """The same, with room for two waiting commands, counted afresh on each submission."""
    async for made in _api(sql_store, max_waiting=2, depth_ttl_s=0):
        yield made


def error_of(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


# -- accepted, and how it went -------------------------------------------------------------


async def test_a_queued_command_answers_202_with_its_id_aggregate_and_status_url(
    api: Api,
) -> None:
    response = await api.withdraw(30)

    assert response.status_code == 202, response.text
    body = response.json()
    command_id = uuid.UUID(body["commandId"])
    assert body["aggregateId"] == api.wallet_id
    assert body["statusUrl"] == f"/commands/{command_id}"
    assert response.headers["Location"] == body["statusUrl"]
    assert [(c.id, c.command_type) for c in await api.queued()] == [(command_id, "Withdraw")]


async def test_the_status_is_queued_until_a_worker_handles_the_command(api: Api) -> None:
    status_url = (await api.withdraw(30)).json()["statusUrl"]

    response = await api.client.get(status_url)

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["attempts"]) == ("queued", 0)


async def test_the_status_is_done_with_version_and_position_once_handled(api: Api) -> None:
    status_url = (await api.withdraw(30)).json()["statusUrl"]

    await api.worker.drain()
    response = await api.client.get(status_url)

    assert response.status_code == 200, response.text
    body = response.json()
    [withdrawn] = (await api.store.read_stream(api.wallet_id))[1:]
    assert (body["status"], body["aggregateId"]) == ("done", api.wallet_id)
    assert (body["version"], body["position"]) == (2, withdrawn.position)
    assert body["error"] is None


async def test_a_command_its_aggregate_refuses_is_refused_with_the_error_code(api: Api) -> None:
    status_url = (await api.withdraw(1000)).json()["statusUrl"]

    await api.worker.drain()
    body = (await api.client.get(status_url)).json()

    assert body["status"] == "refused"
    assert body["error"]["code"] == "insufficient_funds"
    assert "cannot pay out 1000" in body["error"]["message"]
    assert len(await api.store.read_stream(api.wallet_id)) == 1


async def test_any_known_command_is_queued_by_its_type(api: Api) -> None:
    body = {"type": "Deposit", "aggregate_id": api.wallet_id, "amount": 5, "payment_id": "d1"}

    response = await api.client.post("/commands", json=body)
    await api.worker.drain()

    assert response.status_code == 202, response.text
    assert response.json()["type"] == "Deposit"
    status = (await api.client.get(response.json()["statusUrl"])).json()
    assert (status["status"], status["version"]) == ("done", 2)


# -- refused at the door: nothing queued ---------------------------------------------------


async def test_an_unknown_command_type_is_refused_naming_the_known_ones(api: Api) -> None:
    response = await api.client.post("/commands", json={"type": "Transfer", "amount": 5})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "unknown_command_type"
    assert "'Transfer'" in error["message"]
    for known in ("Deposit", "OpenWallet", "RenameOwner", "Withdraw"):
        assert known in error["message"]
    assert await api.queued() == []


async def test_a_command_with_bad_fields_is_refused_with_each_field(api: Api) -> None:
    body = {"type": "Deposit", "aggregate_id": api.wallet_id, "amount": -5}

    response = await api.client.post("/commands", json=body)

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert {tuple(d["loc"]) for d in error["details"]} == {("amount",), ("payment_id",)}
    assert await api.queued() == []


async def test_a_route_building_a_command_refuses_bad_fields_the_same_way(api: Api) -> None:
    response = await api.withdraw("lots")

    assert response.status_code == 422
    assert [d["loc"] for d in error_of(response)["details"]] == [["amount"]]
    assert await api.queued() == []


async def test_malformed_json_is_refused_with_400(api: Api) -> None:
    response = await api.client.post(
        "/commands", content=b'{"type": "Deposit",', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"
    assert await api.queued() == []


async def test_a_body_not_declared_as_json_is_refused_with_415(api: Api) -> None:
    response = await api.client.post(
        "/commands", content=b'{"type": "Deposit"}', headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"
    assert await api.queued() == []


async def test_a_body_over_the_size_limit_is_refused_with_413(api: Api) -> None:
    body = {"type": "RenameOwner", "aggregate_id": api.wallet_id, "owner": "x" * MAX_BODY_BYTES}

    response = await api.client.post("/commands", json=body)

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert await api.queued() == []


async def test_a_full_queue_answers_429_with_retry_after(small_api: Api) -> None:
    for _ in range(2):
        assert (await small_api.withdraw(1)).status_code == 202

    response = await small_api.withdraw(1)

    assert response.status_code == 429
    assert error_of(response)["code"] == "queue_full"
    assert int(response.headers["Retry-After"]) >= 1
    assert len(await small_api.queued()) == 2


async def test_a_full_queue_takes_commands_again_once_a_worker_caught_up(small_api: Api) -> None:
    for _ in range(2):
        await small_api.withdraw(1)
    assert (await small_api.withdraw(1)).status_code == 429

    await small_api.worker.drain()

    assert (await small_api.withdraw(1)).status_code == 202


# -- asking how it went --------------------------------------------------------------------


async def test_the_status_of_an_unknown_command_is_404(api: Api) -> None:
    response = await api.client.get(f"/commands/{uuid.uuid4()}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "command_not_found"


async def test_the_status_of_a_command_id_that_is_no_uuid_is_422(api: Api) -> None:
    response = await api.client.get("/commands/not-a-uuid")

    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"


# -- retries -------------------------------------------------------------------------------


async def test_the_same_idempotency_key_queues_one_command_and_answers_the_same_id(
    api: Api,
) -> None:
    body = {"amount": 30, "payment_id": "p1"}
    url = f"/wallets/{api.wallet_id}/withdrawals"
    headers = {"Idempotency-Key": "withdraw-30"}

    first = await api.client.post(url, json=body, headers=headers)
    again = await api.client.post(url, json=body, headers=headers)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["commandId"] == first.json()["commandId"]
    assert [str(c.id) for c in await api.queued()] == [first.json()["commandId"]]
