"""Commands over HTTP: open, deposit, withdraw, change e-mail, payment ids, idempotency keys."""

from __future__ import annotations

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


async def test_opening_an_account_answers_201_with_a_new_id_and_version_1(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    response = await client.post(ACCOUNTS, json=account_body())
    assert response.status_code == 201, response.text
    reply = response.json()
    assert set(reply) == {"id", "version"}
    assert reply["version"] == 1
    assert reply["id"]
    [event] = await stored_events(runtime.store)
    assert event.stream_id == reply["id"]
    assert position_of(response) == event.position
    assert (await open_account(client))["id"] != reply["id"]


async def test_an_opened_account_holds_what_was_given_with_defaults(
    client: httpx.AsyncClient,
) -> None:
    given = await open_account(client, balance=0, currency="EUR", status="frozen")
    account = await get_account(client, given["id"], fromEventStore="true")
    assert account["email"] == "ann.lee@example.com"
    assert account["address"] == "1 Main St"
    assert (account["firstName"], account["lastName"]) == ("Ann", "Lee")
    assert account["balance"] == {"amount": 0, "currency": "EUR"}
    assert account["status"] == "frozen"
    defaults = await open_account(client, balance=1000)
    account = await get_account(client, defaults["id"], fromEventStore="true")
    assert account["balance"] == {"amount": 1000, "currency": "USD"}
    assert account["status"] == "active"


async def test_deposits_and_withdrawals_move_the_balance_one_version_each(
    client: httpx.AsyncClient,
) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    for call, amount, balance in [(deposit, 250, 1250), (withdraw, 300, 950), (withdraw, 950, 0)]:
        response = await call(client, account_id, amount)
        assert response.status_code == 200, response.text
        account = await get_account(client, account_id, minPosition=position_of(response))
        assert response.json() == {"id": account_id, "version": account["version"]}
        assert account["balance"]["amount"] == balance
    assert account["version"] == 4


async def test_withdrawing_more_than_the_balance_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    response = await withdraw(client, account_id, 1001)
    assert_error(response, 409, "insufficient_funds")
    assert len(await stored_events(runtime.store)) == 1
    account = await get_account(client, account_id, fromEventStore="true")
    assert (account["balance"]["amount"], account["version"]) == (1000, 1)


async def test_changing_the_email_and_the_same_email_again(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client))["id"]
    url = f"{ACCOUNTS}/{account_id}/email"
    response = await client.put(url, json={"email": "ann@new.org"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": account_id, "version": 2}
    account = await get_account(client, account_id, minPosition=position_of(response))
    assert account["email"] == "ann@new.org"
    again = await client.put(url, json={"email": "ann@new.org"})
    assert again.json() == {"id": account_id, "version": 2}
    assert len(await events_of(client, account_id)) == 2


async def test_every_successful_command_appends_one_event_at_the_answered_position(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client))["id"]
    other_id = (await open_account(client))["id"]
    answers = [
        await deposit(client, account_id, 10),
        await withdraw(client, account_id, 20),
        await client.put(f"{ACCOUNTS}/{account_id}/email", json={"email": "x@y.org"}),
    ]
    events = await events_of(client, account_id)
    assert [e["version"] for e in events] == [1, 2, 3, 4]
    assert [e["type"].rsplit(".", 1)[-1] for e in events] == [
        "AccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
        "EmailChanged",
    ]
    records = await runtime.store.read_stream(account_id)
    assert [position_of(a) for a in answers] == [r.position for r in records[1:]]
    assert position_of(answers[0]) > (await runtime.store.read_stream(other_id))[-1].position


# -- payment ids -------------------------------------------------------------------------


async def test_a_repeated_payment_changes_nothing_and_answers_the_current_version(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    for kind, version in [("deposit", 2), ("withdraw", 3)]:
        url = f"{ACCOUNTS}/{account_id}/{kind}"
        first = await client.post(url, json=payment(100, f"{kind}-1"))
        again = await client.post(url, json=payment(100, f"{kind}-1"))
        assert again.status_code == 200, again.text
        assert again.json() == first.json() == {"id": account_id, "version": version}
        assert position_of(again) == position_of(first)
    await deposit(client, account_id, 7)
    late = await deposit(client, account_id, 100, "deposit-1")
    assert late.json() == {"id": account_id, "version": 4}
    assert len(await stored_events(runtime.store)) == 4
    account = await get_account(client, account_id, fromEventStore="true")
    assert account["balance"]["amount"] == 1007


async def test_a_payment_id_with_another_amount_or_kind_is_a_conflict(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    assert (await deposit(client, account_id, 100, "d-1")).status_code == 200
    assert (await withdraw(client, account_id, 100, "w-1")).status_code == 200
    for call, payment_id, amount in [
        (deposit, "d-1", 101),
        (withdraw, "w-1", 99),
        (withdraw, "d-1", 100),
        (deposit, "w-1", 100),
    ]:
        response = await call(client, account_id, amount, payment_id)
        assert_error(response, 409, "payment_conflict")
    assert len(await stored_events(runtime.store)) == 3


async def test_payment_ids_belong_to_one_account(client: httpx.AsyncClient) -> None:
    first = (await open_account(client))["id"]
    second = (await open_account(client))["id"]
    assert (await deposit(client, first, 100, "p-1")).status_code == 200
    response = await deposit(client, second, 200, "p-1")
    assert response.json() == {"id": second, "version": 2}


# -- idempotency keys --------------------------------------------------------------------


def update_call(kind: str, account_id: str) -> tuple[str, str, dict[str, object]]:
    """Method, URL and body of an update command of ``kind``."""
    if kind == "email":
        return "PUT", f"{ACCOUNTS}/{account_id}/email", {"email": "new@example.com"}
    return "POST", f"{ACCOUNTS}/{account_id}/{kind}", payment(600, f"{kind}-1")


async def test_a_retried_opening_answers_the_first_outcome(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    headers = {"Idempotency-Key": "open-1"}
    first = await client.post(ACCOUNTS, json=account_body(), headers=headers)
    again = await client.post(ACCOUNTS, json=account_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert position_of(again) == position_of(first)
    assert len(await stored_events(runtime.store)) == 1


async def test_retried_updates_answer_the_first_outcome_and_change_nothing(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    for version, kind in enumerate(["deposit", "withdraw", "email"], start=2):
        method, url, body = update_call(kind, account_id)
        headers = {"Idempotency-Key": f"{kind}-key"}
        first = await client.request(method, url, json=body, headers=headers)
        again = await client.request(method, url, json=body, headers=headers)
        assert first.status_code == again.status_code == 200, again.text
        assert again.json() == first.json() == {"id": account_id, "version": version}
        assert position_of(again) == position_of(first)
    assert len(await stored_events(runtime.store)) == 4
    account = await get_account(client, account_id, fromEventStore="true")
    assert account["balance"]["amount"] == 1000


async def test_retried_updates_are_replays_of_the_first_answer(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    replayed = []
    for kind in ("deposit", "withdraw", "email"):
        method, url, body = update_call(kind, account_id)
        headers = {"Idempotency-Key": f"{kind}-key"}
        await client.request(method, url, json=body, headers=headers)
        again = await client.request(method, url, json=body, headers=headers)
        replayed.append(again.headers.get("Idempotent-Replayed"))
    method, url, body = update_call("deposit", account_id)
    late = await client.request(method, url, json=body, headers={"Idempotency-Key": "deposit-key"})
    assert (replayed, late.json()["version"]) == (["true", "true", "true"], 2)


async def test_a_key_first_used_for_a_no_op_cannot_name_another_request(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client))["id"]
    url = f"{ACCOUNTS}/{account_id}/deposit"
    await client.post(url, json=payment(100, "p-1"))
    headers = {"Idempotency-Key": "dep-1"}
    repeat = await client.post(url, json=payment(100, "p-1"), headers=headers)
    assert repeat.json() == {"id": account_id, "version": 2}
    other = await client.post(url, json=payment(200, "p-2"), headers=headers)
    assert_error(other, 422, "idempotency_key_reused")
    assert len(await stored_events(runtime.store)) == 2


async def test_the_retry_of_a_keyed_no_op_answers_its_first_outcome(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client))["id"]
    url = f"{ACCOUNTS}/{account_id}/deposit"
    first = await client.post(url, json=payment(100, "p-1"))
    headers = {"Idempotency-Key": "dep-1"}
    repeat = await client.post(url, json=payment(100, "p-1"), headers=headers)
    assert "Idempotent-Replayed" not in repeat.headers
    await client.post(url, json=payment(50, "p-2"))
    retry = await client.post(url, json=payment(100, "p-1"), headers=headers)
    assert retry.json() == {"id": account_id, "version": 2}
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["ESKIT-Position"] == first.headers["ESKIT-Position"]
    assert len(await stored_events(runtime.store)) == 3


async def test_an_idempotency_key_reused_with_another_body_is_refused(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    headers = {"Idempotency-Key": "key-1"}
    opened = await client.post(ACCOUNTS, json=account_body(), headers=headers)
    again = await client.post(ACCOUNTS, json=account_body(firstName="Bob"), headers=headers)
    assert_error(again, 422, "idempotency_key_reused")
    url = f"{ACCOUNTS}/{opened.json()['id']}/deposit"
    assert (await client.post(url, json=payment(100, "p-1"), headers=headers)).status_code == 200
    for body in (payment(200, "p-2"), payment(100, "p-3"), payment(200, "p-1")):
        assert_error(
            await client.post(url, json=body, headers=headers), 422, "idempotency_key_reused"
        )
    assert len(await stored_events(runtime.store)) == 2


async def test_an_idempotency_key_is_scoped_to_its_target(client: httpx.AsyncClient) -> None:
    first = (await open_account(client))["id"]
    second = (await open_account(client))["id"]
    headers = {"Idempotency-Key": "same"}
    for account_id in (first, second):
        response = await client.post(
            f"{ACCOUNTS}/{account_id}/deposit", json=payment(100, "p-1"), headers=headers
        )
        assert response.json() == {"id": account_id, "version": 2}
        assert "Idempotent-Replayed" not in response.headers


async def test_a_refused_command_is_decided_again_when_retried(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=0))["id"]
    url = f"{ACCOUNTS}/{account_id}/withdraw"
    headers = {"Idempotency-Key": "w-1"}
    body = payment(100, "w-1")
    assert_error(await client.post(url, json=body, headers=headers), 409, "insufficient_funds")
    await deposit(client, account_id, 100)
    retried = await client.post(url, json=body, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"id": account_id, "version": 3}


async def test_an_empty_or_overlong_idempotency_key_is_invalid(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    for key in ("", "k" * 256):
        headers = {"Idempotency-Key": key}
        response = await client.post(ACCOUNTS, json=account_body(), headers=headers)
        assert_error(response, 422, "validation_error")
    assert await stored_events(runtime.store) == []
    response = await client.post(
        ACCOUNTS, json=account_body(), headers={"Idempotency-Key": "k" * 255}
    )
    assert response.status_code == 201
