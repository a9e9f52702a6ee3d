"""Queries over HTTP: an account now and as it was, search, the events of an account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from bank_accounts.tests.support import (
    ACCOUNTS,
    SYMBOL_SEARCHES,
    assert_error,
    bad_fields,
    deposit,
    events_of,
    get_account,
    open_account,
    parse_time,
    position_of,
    withdraw,
)

pytestmark = pytest.mark.integration

ACCOUNT_FIELDS = {
    "id",
    "email",
    "address",
    "firstName",
    "lastName",
    "balance",
    "status",
    "version",
    "createdAt",
    "updatedAt",
}


# -- one account -----------------------------------------------------------------------


async def test_an_account_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC)
    account_id = (await open_account(client, balance=1234, currency="EUR"))["id"]
    after = datetime.now(UTC)
    account = await get_account(client, account_id)
    assert set(account) == ACCOUNT_FIELDS
    assert account["id"] == account_id
    assert account["email"] == "ann.lee@example.com"
    assert account["address"] == "1 Main St"
    assert (account["firstName"], account["lastName"]) == ("Ann", "Lee")
    assert account["balance"] == {"amount": 1234, "currency": "EUR"}
    assert (account["status"], account["version"]) == ("active", 1)
    created, updated = parse_time(account["createdAt"]), parse_time(account["updatedAt"])
    assert created == updated
    slack = timedelta(seconds=5)  # the database's clock, not this process's
    assert before - slack <= created <= after + slack


async def test_updated_at_moves_with_each_command_and_created_at_stays(
    client: httpx.AsyncClient,
) -> None:
    account_id = (await open_account(client))["id"]
    opened = await get_account(client, account_id, fromEventStore="true")
    moved = await deposit(client, account_id, 5)
    now = await get_account(client, account_id, minPosition=position_of(moved))
    assert now["createdAt"] == opened["createdAt"]
    assert parse_time(now["updatedAt"]) > parse_time(opened["updatedAt"])
    assert parse_time(now["createdAt"]) <= parse_time(now["updatedAt"])
    events = await events_of(client, account_id)
    assert now["updatedAt"] == events[-1]["recordedAt"]
    assert now["createdAt"] == events[0]["recordedAt"]


async def test_the_event_store_and_the_read_model_agree(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client))["id"]
    await deposit(client, account_id, 300)
    last = await withdraw(client, account_id, 100)
    read_model = await get_account(client, account_id, minPosition=position_of(last))
    from_events = await get_account(client, account_id, fromEventStore="true")
    assert read_model == from_events
    assert from_events["balance"]["amount"] == 1200
    assert from_events["version"] == 3


async def test_at_version_shows_the_account_as_it_was(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    await deposit(client, account_id, 500)
    await withdraw(client, account_id, 200)
    events = await events_of(client, account_id)
    for version, balance in [(1, 1000), (2, 1500), (3, 1300)]:
        then = await get_account(client, account_id, atVersion=version)
        assert (then["version"], then["balance"]["amount"]) == (version, balance)
        assert then["createdAt"] == events[0]["recordedAt"]
        assert then["updatedAt"] == events[version - 1]["recordedAt"]


async def test_as_of_shows_the_account_as_it_was_then(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=1000))["id"]
    await client.put(f"{ACCOUNTS}/{account_id}/email", json={"email": "ann@new.org"})
    await deposit(client, account_id, 1)
    events = await events_of(client, account_id)
    then = await get_account(client, account_id, asOf=events[1]["recordedAt"])
    assert (then["version"], then["email"], then["balance"]["amount"]) == (2, "ann@new.org", 1000)
    first = await get_account(client, account_id, asOf=events[0]["recordedAt"])
    assert (first["version"], first["email"]) == (1, "ann.lee@example.com")
    in_india = parse_time(events[0]["recordedAt"]).astimezone(timezone(timedelta(hours=5.5)))
    assert (await get_account(client, account_id, asOf=in_india.isoformat()))["version"] == 1
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await get_account(client, account_id, asOf=later))["version"] == 3


async def test_past_states_are_never_made_up(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client))["id"]
    url = f"{ACCOUNTS}/{account_id}"
    for version in (2, 99):
        assert_error(await client.get(url, params={"atVersion": version}), 404, "not_found")
    [event] = await events_of(client, account_id)
    before = parse_time(event["recordedAt"]) - timedelta(milliseconds=1)
    response = await client.get(url, params={"asOf": before.isoformat()})
    assert_error(response, 404, "not_found")


async def test_bad_past_state_parameters_are_validation_errors(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client))["id"]
    url = f"{ACCOUNTS}/{account_id}"
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"atVersion": 0}, {"atVersion"}),
        ({"atVersion": -1}, {"atVersion"}),
        ({"asOf": "2024-01-01T00:00:00"}, {"asOf"}),  # no offset: which moment?
        ({"asOf": "yesterday"}, {"asOf"}),
        ({"asOf": "2024-13-01T00:00:00Z"}, {"asOf"}),
    ]
    for params, fields in cases:
        error = assert_error(await client.get(url, params=params), 422, "validation_error")
        assert bad_fields(error) == fields, params
    both: dict[str, Any] = {"atVersion": 1, "asOf": datetime.now(UTC).isoformat()}
    error = assert_error(await client.get(url, params=both), 422, "conflicting_parameters")
    assert bad_fields(error) == {"atVersion", "asOf"}


async def test_an_unknown_account_is_not_found(client: httpx.AsyncClient) -> None:
    cases: list[dict[str, Any]] = [
        {},
        {"fromEventStore": "true"},
        {"atVersion": 1},
        {"asOf": "2030-01-01T00:00:00Z"},
    ]
    for params in cases:
        response = await client.get(f"{ACCOUNTS}/no-such-account", params=params)
        assert_error(response, 404, "not_found")
    assert_error(await client.get(f"{ACCOUNTS}/nobody/events"), 404, "not_found")


# -- search ----------------------------------------------------------------------------


async def open_people(client: httpx.AsyncClient) -> int:
    """Five accounts with distinct balances; the position of the last."""
    people = [
        ("Carol", "Jones", "carol@example.com", 300),
        ("Ann", "Lee", "ann@example.com", 500),
        ("Bob", "Annan", "bob@example.com", 100),
        ("Dave", "Smith", "dave@corp.net", 400),
        ("Eve", "Stone", "annie@corp.net", 200),
    ]
    response = None
    for first, last, email, balance in people:
        body = {"firstName": first, "lastName": last, "email": email, "balance": balance}
        response = await client.post(ACCOUNTS, json={"address": "x", **body})
        assert response.status_code == 201
    assert response is not None
    return position_of(response)


async def search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(ACCOUNTS, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_search_lists_every_account_by_balance_ascending_in_pages(
    client: httpx.AsyncClient,
) -> None:
    position = await open_people(client)
    found = await search(client, minPosition=position)
    assert set(found) == {"items", "page", "size", "total", "hasMore"}
    assert (found["page"], found["size"], found["total"], found["hasMore"]) == (1, 10, 5, False)
    items = found["items"]
    assert [item["balance"]["amount"] for item in items] == [100, 200, 300, 400, 500]
    assert all(set(item) == ACCOUNT_FIELDS for item in items)
    assert items[0]["firstName"] == "Bob"
    pages = [await search(client, page=n, size=2) for n in (1, 2, 3, 4)]
    assert [(p["page"], p["size"], p["total"], p["hasMore"]) for p in pages] == [
        (1, 2, 5, True),
        (2, 2, 5, True),
        (3, 2, 5, False),
        (4, 2, 5, False),
    ]
    balances = [[i["balance"]["amount"] for i in p["items"]] for p in pages]
    assert balances == [[100, 200], [300, 400], [500], []]


async def test_search_matches_word_prefixes_of_names_and_emails(
    client: httpx.AsyncClient,
) -> None:
    position = await open_people(client)

    async def names(text: str) -> list[str]:
        found = await search(client, search=text, minPosition=position)
        return [item["firstName"] for item in found["items"]]

    assert await names("ann") == ["Bob", "Eve", "Ann"]  # Annan, annie@, Ann
    assert await names("ANN LEE") == ["Ann"]
    assert await names("corp") == ["Eve", "Dave"]
    assert await names("smith") == ["Dave"]
    assert await names("nobody") == []


async def test_a_search_of_symbols_only_matches_no_account(client: httpx.AsyncClient) -> None:
    position = await open_people(client)
    for text in SYMBOL_SEARCHES:
        found = await search(client, search=text, minPosition=position)
        assert (found["items"], found["total"], found["hasMore"]) == ([], 0, False), text


async def test_an_empty_or_absent_search_lists_every_account(client: httpx.AsyncClient) -> None:
    position = await open_people(client)
    for params in ({"search": ""}, {}):
        found = await search(client, minPosition=position, **params)
        assert (len(found["items"]), found["total"]) == (5, 5), params


async def test_search_sees_a_changed_email(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, email="old@example.com"))["id"]
    changed = await client.put(f"{ACCOUNTS}/{account_id}/email", json={"email": "zed@new.org"})
    found = await search(client, search="zed", minPosition=position_of(changed))
    assert [item["id"] for item in found["items"]] == [account_id]
    assert found["items"][0]["version"] == 2


# -- events ----------------------------------------------------------------------------


async def test_the_events_of_an_account_in_order(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client, balance=10))["id"]
    await deposit(client, account_id, 5, "p-1")
    events = await events_of(client, account_id)
    assert all(
        set(e) == {"eventId", "type", "version", "data", "metadata", "recordedAt"} for e in events
    )
    opened, deposited = events
    assert (opened["version"], deposited["version"]) == (1, 2)
    assert opened["type"].endswith("AccountOpened")
    assert opened["data"]["balance"] == 10
    assert deposited["type"].endswith("MoneyDeposited")
    assert deposited["data"] == {"amount": 5, "currency": "USD", "payment_id": "p-1"}
    assert opened["eventId"] != deposited["eventId"]
    assert parse_time(opened["recordedAt"]) <= parse_time(deposited["recordedAt"])
    assert deposited["metadata"]["command_type"] == "DepositMoney"
