"""Reading your writes: minVersion, minPosition, fromEventStore, and their time bound."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bank_accounts.tests.support import (
    ACCOUNTS,
    RuntimeFactory,
    account_body,
    assert_error,
    deposit,
    get_account,
    http_client,
    open_account,
    position_of,
    stored_events,
)
from eskit.projections import ProjectionRunner
from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.integration

TIMEOUT_S = 0.3


@pytest.fixture
async def stalled(make_runtime: RuntimeFactory) -> ServiceRuntime:
    """A service whose read model never catches up (no projections), waiting 0.3 s at most."""
    return await make_runtime(grpc=False, run_projections=False, consistency_timeout_s=TIMEOUT_S)


@pytest.fixture
async def stalled_client(stalled: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(stalled) as client:
        yield client


async def test_min_version_and_min_position_return_the_write_they_name(
    client: httpx.AsyncClient,
) -> None:
    account_id = (await open_account(client))["id"]
    for amount in range(1, 4):
        response = await deposit(client, account_id, amount)
        account = await get_account(client, account_id, minPosition=position_of(response))
        assert account["version"] == amount + 1
    await deposit(client, account_id, 10)
    account = await get_account(client, account_id, minVersion=5)
    assert (account["version"], account["balance"]["amount"]) == (5, 1016)


async def test_a_read_model_that_does_not_catch_up_times_out(
    stalled_client: httpx.AsyncClient,
) -> None:
    opened = await stalled_client.post(ACCOUNTS, json=account_body())
    account_url = f"{ACCOUNTS}/{opened.json()['id']}"
    position = position_of(opened)
    for url, params in [
        (account_url, {"minVersion": 1}),
        (account_url, {"minPosition": position}),
        (ACCOUNTS, {"minPosition": position}),
    ]:
        started = time.monotonic()
        response = await stalled_client.get(url, params=params)
        elapsed = time.monotonic() - started
        assert_error(response, 504, "not_caught_up")
        assert TIMEOUT_S <= elapsed < TIMEOUT_S + 2


async def test_min_version_past_the_account_times_out(make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime(grpc=False, consistency_timeout_s=TIMEOUT_S)
    async with http_client(runtime) as client:
        account_id = (await open_account(client))["id"]
        response = await client.get(f"{ACCOUNTS}/{account_id}", params={"minVersion": 2})
        assert_error(response, 504, "not_caught_up")
        response = await client.get(
            f"{ACCOUNTS}/{account_id}", params={"minVersion": 2, "fromEventStore": "true"}
        )
        assert_error(response, 504, "not_caught_up")


async def test_the_events_wait_for_the_store_only(stalled_client: httpx.AsyncClient) -> None:
    account_id = (await open_account(stalled_client))["id"]
    response = await deposit(stalled_client, account_id, 5)
    url = f"{ACCOUNTS}/{account_id}/events"
    events = await stalled_client.get(url, params={"minPosition": position_of(response)})
    assert [e["version"] for e in events.json()] == [1, 2]
    later = await stalled_client.get(url, params={"minPosition": position_of(response) + 1})
    assert_error(later, 504, "not_caught_up")


async def test_reads_from_the_event_store_need_no_projection(
    stalled_client: httpx.AsyncClient,
) -> None:
    account_id = (await open_account(stalled_client, balance=10))["id"]
    response = await deposit(stalled_client, account_id, 5)
    for params in [{}, {"minVersion": 2}, {"minPosition": position_of(response)}]:
        account = await get_account(stalled_client, account_id, fromEventStore="true", **params)
        assert (account["version"], account["balance"]["amount"]) == (2, 15)


async def test_a_lagging_read_model_is_filled_from_the_events(
    stalled_client: httpx.AsyncClient,
) -> None:
    account_id = (await open_account(stalled_client, balance=10))["id"]
    await deposit(stalled_client, account_id, 5)
    account = await get_account(stalled_client, account_id)
    assert (account["version"], account["balance"]["amount"]) == (2, 15)


async def test_a_waiting_read_returns_as_soon_as_the_projection_catches_up(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = await make_runtime(grpc=False, run_projections=False, consistency_timeout_s=10)
    async with http_client(runtime) as client:
        account_id = (await open_account(client))["id"]
        response = await deposit(client, account_id, 5)
        waiting = [
            asyncio.create_task(client.get(f"{ACCOUNTS}/{account_id}", params=params))
            for params in ({"minVersion": 2}, {"minPosition": position_of(response)})
        ]
        searching = asyncio.create_task(
            client.get(ACCOUNTS, params={"minPosition": position_of(response)})
        )
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in [*waiting, searching])
        runner = ProjectionRunner(runtime.store, runtime.parts.projections)
        started = time.monotonic()
        await runner.start()
        try:
            answers = await asyncio.wait_for(asyncio.gather(*waiting, searching), 5)
        finally:
            await runner.stop()
        assert time.monotonic() - started < 3  # far from the 10 s bound
        for answer in answers[:2]:
            assert answer.status_code == 200, answer.text
            assert answer.json()["balance"]["amount"] == 1005
        assert [item["id"] for item in answers[2].json()["items"]] == [account_id]


async def test_health_and_the_position_of_the_last_write(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    live = await client.get("/health/live")
    assert (live.status_code, live.json()["status"]) == (200, "ok")
    first = (await client.get("/health/ready")).json()
    assert (first["status"], first["position"]) == ("ok", 0)
    account_id = (await open_account(client))["id"]
    response = await deposit(client, account_id, 5)
    await stored_events(runtime.store)  # past the read horizon (see there)
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert (ready.json()["status"], ready.json()["position"]) == ("ok", position_of(response))
