"""Concurrent requests over HTTP: no lost update, no overdraft, no double creation."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bank_accounts.tests.support import (
    ACCOUNTS,
    account_body,
    assert_error,
    deposit,
    events_of,
    get_account,
    open_account,
    payment,
    position_of,
    stored_events,
    withdraw,
)
from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.integration


async def test_concurrent_withdrawals_never_overdraw(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    answers = await asyncio.gather(*(withdraw(client, account_id, 100) for _ in range(50)))
    paid = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(paid) == 10
    for answer in refused:
        assert_error(answer, 409, "insufficient_funds")
    assert sorted(a.json()["version"] for a in paid) == list(range(2, 12))
    assert (await get_account(client, account_id, fromEventStore="true"))["balance"]["amount"] == 0
    last = max(position_of(a) for a in paid)
    read_model = await get_account(client, account_id, minPosition=last)
    assert (read_model["balance"]["amount"], read_model["version"]) == (0, 11)
    assert len(await events_of(client, account_id)) == 11


async def test_concurrent_deposits_all_count(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=0))["id"]
    amounts = range(1, 31)
    answers = await asyncio.gather(
        *(deposit(client, account_id, amount, f"dep-{amount}") for amount in amounts)
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 32))
    last = max(position_of(a) for a in answers)
    account = await get_account(client, account_id, minPosition=last)
    assert (account["balance"]["amount"], account["version"]) == (sum(amounts), 31)
    assert account == await get_account(client, account_id, fromEventStore="true")


async def test_one_payment_sent_concurrently_is_paid_once(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=0))["id"]
    answers = await asyncio.gather(*(deposit(client, account_id, 50, "p-1") for _ in range(10)))
    assert all(a.status_code == 200 for a in answers)
    assert {a.json()["version"] for a in answers} == {2}
    account = await get_account(client, account_id, fromEventStore="true")
    assert (account["balance"]["amount"], account["version"]) == (50, 2)


async def test_one_idempotency_key_sent_concurrently_opens_one_account(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    headers = {"Idempotency-Key": "open-once"}
    answers = await asyncio.gather(
        *(client.post(ACCOUNTS, json=account_body(), headers=headers) for _ in range(10))
    )
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert {a.json()["version"] for a in answers} == {1}
    assert len({position_of(a) for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 9
    assert len(await stored_events(runtime.store)) == 1


async def test_one_keyed_withdrawal_sent_concurrently_pays_out_once(
    client: httpx.AsyncClient,
) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    url = f"{ACCOUNTS}/{account_id}/withdraw"
    headers = {"Idempotency-Key": "w-once"}
    answers = await asyncio.gather(
        *(client.post(url, json=payment(300, "w-1"), headers=headers) for _ in range(10))
    )
    assert all(a.status_code == 200 for a in answers)
    assert {a.json()["version"] for a in answers} == {2}
    account = await get_account(client, account_id, fromEventStore="true")
    assert account["balance"]["amount"] == 700


async def test_concurrent_openings_are_all_kept(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    answers = await asyncio.gather(
        *(client.post(ACCOUNTS, json=account_body(balance=n)) for n in range(20))
    )
    assert all(a.status_code == 201 for a in answers)
    assert len({a.json()["id"] for a in answers}) == 20
    last = max(position_of(a) for a in answers)
    found = (await client.get(ACCOUNTS, params={"size": 100, "minPosition": last})).json()
    assert found["total"] == 20
    assert [item["balance"]["amount"] for item in found["items"]] == list(range(20))
    assert len(await stored_events(runtime.store)) == 20
