"""Refused requests over HTTP: every error has eskit's shape and nothing is written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bank_accounts.tests.support import (
    ACCOUNTS,
    RuntimeFactory,
    account_body,
    assert_error,
    bad_fields,
    http_client,
    open_account,
    payment,
    stored_events,
)
from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.integration

BAD_OPENINGS: list[tuple[dict[str, Any], set[str]]] = [
    (account_body(balance=10.5), {"balance"}),
    (account_body(balance="10"), {"balance"}),
    (account_body(balance=-1), {"balance"}),
    (account_body(balance=True), {"balance"}),
    (account_body(balance=None), {"balance"}),
    (account_body(balance=2**63), {"balance"}),
    (account_body(balance=...), {"balance"}),
    (account_body(email=...), {"email"}),
    (account_body(address=...), {"address"}),
    (account_body(firstName=..., lastName=...), {"firstName", "lastName"}),
    (account_body(firstName=""), {"firstName"}),
    (account_body(lastName=""), {"lastName"}),
    (account_body(address=""), {"address"}),
    (account_body(email="not-an-email"), {"email"}),
    (account_body(email="ann@example"), {"email"}),
    (account_body(email="a b@example.com"), {"email"}),
    (account_body(currency="usd"), {"currency"}),
    (account_body(currency="US"), {"currency"}),
    (account_body(status=""), {"status"}),
    (account_body(nickname="annie"), {"nickname"}),
    (account_body(first_name="Ann"), {"first_name"}),
    ({}, {"email", "address", "firstName", "lastName", "balance"}),
]

BAD_PAYMENTS: list[tuple[dict[str, Any], set[str]]] = [
    (payment(0), {"amount"}),
    (payment(-5), {"amount"}),
    (payment(10.5), {"amount"}),
    (payment(1.0), {"amount"}),
    (payment("10"), {"amount"}),
    (payment(True), {"amount"}),
    (payment(10**15 + 1), {"amount"}),
    ({"paymentId": "p-1"}, {"amount"}),
    ({"amount": 10}, {"paymentId"}),
    (payment(10, ""), {"paymentId"}),
    (payment(10, "p" * 101), {"paymentId"}),
    (payment(10, "p" * 100_000), {"paymentId"}),
    (payment(10, 12), {"paymentId"}),
    (payment(10, note="hi"), {"note"}),
]


async def test_every_bad_opening_is_a_validation_error_listing_the_fields(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    for body, fields in BAD_OPENINGS:
        error = assert_error(await client.post(ACCOUNTS, json=body), 422, "validation_error")
        assert bad_fields(error) == fields, body
        assert all({"loc", "message", "type"} <= set(d) for d in error["details"])
    assert await stored_events(runtime.store) == []


async def test_every_bad_payment_is_a_validation_error_listing_the_fields(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client))["id"]
    for kind in ("deposit", "withdraw"):
        for body, fields in BAD_PAYMENTS:
            response = await client.post(f"{ACCOUNTS}/{account_id}/{kind}", json=body)
            assert bad_fields(assert_error(response, 422, "validation_error")) == fields, body
    assert len(await stored_events(runtime.store)) == 1


async def test_bad_bodies_of_every_command_are_refused(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    account_id = (await open_account(client))["id"]
    url = f"{ACCOUNTS}/{account_id}/email"
    for body in ({"email": "nope"}, {"email": ""}, {"email": "a@b." + "c" * 300}, {}, {"e": 1}):
        assert_error(await client.put(url, json=body), 422, "validation_error")
    commands = [
        ("POST", ACCOUNTS),
        ("POST", f"{ACCOUNTS}/{account_id}/deposit"),
        ("POST", f"{ACCOUNTS}/{account_id}/withdraw"),
        ("PUT", url),
    ]
    json_type = {"Content-Type": "application/json"}
    not_objects: list[Any] = [[], "text", 5, None]
    for method, command_url in commands:
        for not_an_object in not_objects:
            response = await client.request(method, command_url, json=not_an_object)
            assert_error(response, 422, "validation_error")
        assert_error(await client.request(method, command_url), 422, "validation_error")
        for content in (b'{"amount": 10,', b"{'amount': 10}", b"\xff\xfe", b"{"):
            response = await client.request(method, command_url, content=content, headers=json_type)
            assert_error(response, 400, "malformed_json")
    assert len(await stored_events(runtime.store)) == 1


async def test_commands_to_an_unknown_account_are_not_found(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    for method, path, body in [
        ("POST", "deposit", payment(10)),
        ("POST", "withdraw", payment(10)),
        ("PUT", "email", {"email": "a@b.org"}),
    ]:
        response = await client.request(method, f"{ACCOUNTS}/nobody/{path}", json=body)
        assert_error(response, 404, "not_found")
    assert await stored_events(runtime.store) == []


async def test_bad_query_parameters_are_validation_errors(client: httpx.AsyncClient) -> None:
    account_id = (await open_account(client))["id"]
    cases: list[tuple[str, dict[str, Any], str]] = [
        (ACCOUNTS, {"page": 0}, "page"),
        (ACCOUNTS, {"page": "one"}, "page"),
        (ACCOUNTS, {"size": 0}, "size"),
        (ACCOUNTS, {"size": 101}, "size"),
        (ACCOUNTS, {"search": "x" * 201}, "search"),
        (ACCOUNTS, {"search": " ".join(f"w{n}" for n in range(33))}, "search"),
        (ACCOUNTS, {"minPosition": -1}, "minPosition"),
        (f"{ACCOUNTS}/{account_id}", {"minVersion": 0}, "minVersion"),
        (f"{ACCOUNTS}/{account_id}", {"minPosition": "last"}, "minPosition"),
        (f"{ACCOUNTS}/{account_id}", {"atVersion": "1.5"}, "atVersion"),
        (f"{ACCOUNTS}/{account_id}", {"fromEventStore": "perhaps"}, "fromEventStore"),
        (f"{ACCOUNTS}/{account_id}/events", {"minPosition": -1}, "minPosition"),
    ]
    for url, params, field in cases:
        response = await client.get(url, params=params)
        assert bad_fields(assert_error(response, 422, "validation_error")) == {field}, params
    most_words = " ".join(f"w{n}" for n in range(32))
    assert (await client.get(ACCOUNTS, params={"search": most_words})).status_code == 200


async def test_unknown_routes_and_methods_answer_in_the_error_shape(
    client: httpx.AsyncClient,
) -> None:
    assert_error(await client.get("/api/v1/nothing"), 404, "not_found")
    assert_error(await client.get(f"{ACCOUNTS}/{'a' * 201}"), 422, "validation_error")
    assert_error(await client.delete(f"{ACCOUNTS}/some-id"), 405, "method_not_allowed")


# -- body size -------------------------------------------------------------------------


@pytest.fixture
async def small_limit(make_runtime: RuntimeFactory) -> ServiceRuntime:
    """A service that accepts bodies of at most 1,000 bytes."""
    return await make_runtime(grpc=False, max_body_bytes=1000)


@pytest.fixture
async def small_bodies(small_limit: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(small_limit) as client:
        yield client


def padded_opening(size: int) -> bytes:
    """A valid account body of exactly ``size`` bytes (padded with JSON whitespace)."""
    raw = httpx.Request("POST", "/", json=account_body()).content
    return raw + b" " * (size - len(raw))


async def chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_body_over_the_limit_is_refused(
    small_limit: ServiceRuntime, small_bodies: httpx.AsyncClient
) -> None:
    headers = {"Content-Type": "application/json"}
    for content in (padded_opening(1001), padded_opening(100_000)):
        response = await small_bodies.post(ACCOUNTS, content=content, headers=headers)
        assert_error(response, 413, "payload_too_large")
    assert await stored_events(small_limit.store) == []
    response = await small_bodies.post(ACCOUNTS, content=padded_opening(1000), headers=headers)
    assert response.status_code == 201, response.text


async def test_a_chunked_body_over_the_limit_is_refused(
    small_limit: ServiceRuntime, small_bodies: httpx.AsyncClient
) -> None:
    headers = {"Content-Type": "application/json"}
    for content in (padded_opening(1001), padded_opening(100_000)):
        response = await small_bodies.post(ACCOUNTS, content=chunks(content), headers=headers)
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "payload_too_large")
    assert await stored_events(small_limit.store) == []
    response = await small_bodies.post(
        ACCOUNTS, content=chunks(padded_opening(1000)), headers=headers
    )
    assert response.status_code == 201, response.text


async def test_the_default_limit_is_two_megabytes(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    headers = {"Content-Type": "application/json"}
    limit = 2 * 1024 * 1024
    response = await client.post(ACCOUNTS, content=padded_opening(limit + 1), headers=headers)
    assert_error(response, 413, "payload_too_large")
    chunked = await client.post(
        ACCOUNTS, content=chunks(padded_opening(limit + 1), 64 * 1024), headers=headers
    )
    assert_error(chunked, 413, "payload_too_large")
    assert await stored_events(runtime.store) == []
    response = await client.post(ACCOUNTS, content=padded_opening(limit), headers=headers)
    assert response.status_code == 201, response.text
