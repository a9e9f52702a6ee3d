"""The edges of the contract, over HTTP and gRPC: content types, malformed JSON, the values
``status`` and ``currency`` take, parameters that exclude each other, and what the OpenAPI
schema declares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest

from bank_accounts.commands import CURRENCY_CODES, STATUSES
from bank_accounts.proto import bank_accounts_pb2 as pb
from bank_accounts.tests.grpc_client import BankAccountsClient, failure
from bank_accounts.tests.support import (
    ACCOUNTS,
    account_body,
    assert_error,
    bad_fields,
    get_account,
    open_account,
    payment,
    stored_events,
)
from eskit.http import MAX_JSON_DEPTH
from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.integration

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
async def bank(runtime: ServiceRuntime) -> AsyncIterator[BankAccountsClient]:
    assert runtime.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        yield BankAccountsClient(channel)


async def commands(client: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    """Each command route, with a valid body for it, on a fresh account."""
    account = f"{ACCOUNTS}/{(await open_account(client))['id']}"
    return [
        ("POST", ACCOUNTS, account_body()),
        ("POST", f"{account}/deposit", payment(10)),
        ("POST", f"{account}/withdraw", payment(10)),
        ("PUT", f"{account}/email", {"email": "new@example.com"}),
    ]


def nested(depth: int) -> Any:
    """A JSON value of arrays ``depth`` levels deep."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# -- content types ---------------------------------------------------------------------------


async def test_a_body_that_is_not_declared_json_is_unsupported(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    routes = await commands(client)
    for method, url, body in routes:
        raw = httpx.Request(method, url, json=body).content
        for headers in (
            {"Content-Type": "text/plain"},
            {"Content-Type": "application/x-www-form-urlencoded"},
            {"Content-Type": "multipart/form-data; boundary=x"},
            {"Content-Type": "application/xml"},
            {},  # none
        ):
            response = await client.request(method, url, content=raw, headers=headers)
            error = assert_error(response, 415, "unsupported_media_type")
            assert "application/json" in error["message"], error
        form = await client.request(method, url, data={"amount": "10", "paymentId": "p"})
        assert_error(form, 415, "unsupported_media_type")
    assert len(await stored_events(runtime.store)) == 1  # the account the routes act on


async def test_json_media_types_with_parameters_or_suffixes_are_json(
    client: httpx.AsyncClient,
) -> None:
    for content_type in (
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.eskit+json",
    ):
        raw = httpx.Request("POST", ACCOUNTS, json=account_body()).content
        response = await client.post(ACCOUNTS, content=raw, headers={"Content-Type": content_type})
        assert response.status_code == 201, (content_type, response.text)


async def test_no_body_at_all_is_a_validation_error_naming_the_body(
    client: httpx.AsyncClient,
) -> None:
    for method, url, _ in await commands(client):
        error = assert_error(await client.request(method, url), 422, "validation_error")
        assert bad_fields(error) == {"body"}


# -- malformed JSON ------------------------------------------------------------------------


async def test_malformed_bodies_are_malformed_json(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    json_type = {"Content-Type": "application/json"}
    latin1 = '{"email": "zoë@example.com"}'.encode("latin-1")
    malformed = {
        "not UTF-8": latin1,
        "UTF-16": '{"amount": 10}'.encode("utf-16"),
        "a lone surrogate": b'{"paymentId": "\\ud800", "amount": 10}',
        "too deep": b'{"amount": 10, "paymentId": "p", "note": '
        + httpx.Request("POST", "/", json=nested(MAX_JSON_DEPTH)).content
        + b"}",
        "far too deep": b"[" * 5000 + b"]" * 5000,
        "bad syntax": b'{"amount": 10,',
        "single quotes": b"{'amount': 10}",
        "trailing garbage": b'{"amount": 10} x',
    }
    for method, url, _ in await commands(client):
        for why, content in malformed.items():
            response = await client.request(method, url, content=content, headers=json_type)
            error = assert_error(response, 400, "malformed_json")
            assert error["details"] is None, why
        assert (
            "not UTF-8"
            in (await client.request(method, url, content=latin1, headers=json_type)).json()[
                "error"
            ]["message"]
        )
    assert len(await stored_events(runtime.store)) == 1


async def test_json_as_deep_as_the_limit_is_read(client: httpx.AsyncClient) -> None:
    # read, then refused for the field it has no business having: not malformed
    body = {**payment(10), "note": nested(MAX_JSON_DEPTH - 1)}  # the object is a level
    account = (await open_account(client))["id"]
    response = await client.post(f"{ACCOUNTS}/{account}/deposit", json=body)
    assert bad_fields(assert_error(response, 422, "validation_error")) == {"note"}


# -- status and currency ---------------------------------------------------------------------


async def test_status_and_currency_take_only_their_documented_values(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    for field, value in (
        ("status", "weird"),
        ("status", "Active"),
        ("status", ""),
        ("currency", "XYZ"),
        ("currency", "usd"),
        ("currency", "ABC"),
    ):
        response = await client.post(ACCOUNTS, json=account_body(**{field: value}))
        error = assert_error(response, 422, "validation_error")
        assert bad_fields(error) == {field}, (field, value)
        assert field in error["message"], error
    assert await stored_events(runtime.store) == []

    assert set(STATUSES) == {"active", "frozen", "closed"}
    assert {"USD", "EUR", "JPY", "CHF"} <= set(CURRENCY_CODES)
    for status, currency in (("closed", "JPY"), ("frozen", "CHF"), ("active", "EUR")):
        opened = await open_account(client, status=status, currency=currency)
        account = await get_account(client, opened["id"], fromEventStore="true")
        assert (account["status"], account["balance"]["currency"]) == (status, currency)


async def test_status_and_currency_over_grpc_name_the_field_and_the_reason(
    bank: BankAccountsClient, runtime: ServiceRuntime
) -> None:
    for field, value, reason in (
        ("status", "weird", "'active', 'frozen' or 'closed'"),
        ("currency", "XYZ", "not an ISO 4217 currency code"),
    ):
        given: dict[str, Any] = {field: value}
        failed = await failure(bank.open(**given))
        assert (failed.status, failed.code) == (INVALID, "validation_error")
        assert f"{field}: " in failed.details
        assert reason in failed.details
        assert failed.error is not None
        assert failed.error["code"] == "validation_error"
        assert failed.error["message"] == failed.details
        assert failed.bad_fields() == {field}
        assert reason in failed.error["details"][0]["message"]
    assert await runtime.store.last_position() == 0
    reply = await bank.open(status="closed", currency="JPY")
    account = await bank.get_account(pb.GetAccountRequest(id=reply.id, from_event_store=True))
    assert (account.status, account.balance.currency) == ("closed", "JPY")


async def test_grpc_names_each_bad_field_and_why_as_http_does(
    bank: BankAccountsClient, client: httpx.AsyncClient
) -> None:
    over_grpc = await failure(bank.open(email="nope", balance=-1))
    over_http = await client.post(ACCOUNTS, json=account_body(email="nope", balance=-1))
    http_error = assert_error(over_http, 422, "validation_error")
    assert over_grpc.bad_fields() == {"email", "balance"} == bad_fields(http_error)
    http_reasons = {d["loc"][-1]: d["message"] for d in http_error["details"]}
    assert over_grpc.error is not None
    for detail in over_grpc.error["details"]:
        assert detail["message"] == http_reasons[detail["loc"][-1]]
        assert f"{detail['loc'][-1]}: {detail['message']}" in over_grpc.details
    page = await failure(bank.search_accounts(pb.SearchAccountsRequest(page=-1, size=500)))
    assert page.bad_fields() == {"page", "size"}
    assert "page: must be at least 1" in page.details


# -- parameters that exclude each other -------------------------------------------------------

CONFLICTS: list[tuple[dict[str, Any], set[str]]] = [
    ({"atVersion": 1, "asOf": "2030-01-01T00:00:00Z"}, {"atVersion", "asOf"}),
    ({"atVersion": 2, "minVersion": 9}, {"atVersion", "minVersion"}),
    ({"atVersion": 1, "minPosition": 1}, {"atVersion", "minPosition"}),
    ({"asOf": "2030-01-01T00:00:00Z", "minVersion": 1}, {"asOf", "minVersion"}),
    ({"asOf": "2030-01-01T00:00:00Z", "minPosition": 1}, {"asOf", "minPosition"}),
    (
        {"atVersion": 1, "asOf": "2030-01-01T00:00:00Z", "minVersion": 1, "minPosition": 1},
        {"atVersion", "asOf", "minVersion", "minPosition"},
    ),
]


async def test_conflicting_read_parameters_are_refused_naming_them(
    client: httpx.AsyncClient,
) -> None:
    account = (await open_account(client))["id"]
    for params, names in CONFLICTS:
        response = await client.get(f"{ACCOUNTS}/{account}", params=params)
        error = assert_error(response, 422, "conflicting_parameters")
        assert bad_fields(error) == names, params
        assert all(detail["loc"][0] == "query" for detail in error["details"])
        assert all(name in error["message"] for name in names), error
    # each of them alone, and minVersion with minPosition, are fine
    for params in (
        {"atVersion": 1},
        {"asOf": "2999-01-01T00:00:00Z"},
        {"minVersion": 1, "minPosition": 1},
    ):
        assert (await get_account(client, account, **params))["version"] == 1


async def test_conflicting_read_parameters_over_grpc(bank: BankAccountsClient) -> None:
    opened = await bank.open()
    spelled = {"atVersion": "at_version", "asOf": "as_of"}
    spelled |= {"minVersion": "min_version", "minPosition": "min_position"}
    for params, names in CONFLICTS:
        request = pb.GetAccountRequest(id=opened.id, **{spelled[k]: v for k, v in params.items()})
        failed = await failure(bank.get_account(request))
        assert (failed.status, failed.code) == (INVALID, "conflicting_parameters"), params
        assert failed.bad_fields() == {spelled[name] for name in names}
    account = await bank.get_account(pb.GetAccountRequest(id=opened.id, at_version=1))
    assert account.version == 1


# -- the OpenAPI schema --------------------------------------------------------------------


def codes_declared(response: dict[str, Any]) -> str:
    return str(response.get("description", ""))


async def test_the_schema_declares_headers_and_every_error(runtime: ServiceRuntime) -> None:
    schema = runtime.app.openapi()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            headers_in = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
            assert "X-Request-ID" in headers_in, where
            for status, response in responses.items():
                assert "X-Request-ID" in response["headers"], (where, status)
            assert "method_not_allowed" in codes_declared(responses["405"]), where
            assert "Allow" in responses["405"]["headers"], where
            assert "internal_error" in codes_declared(responses["500"]), where
            if not path.startswith("/api/"):
                continue
            assert "unauthorized" in codes_declared(responses["401"]), where
            assert "validation_error" in codes_declared(responses["422"]), where
            assert "store_unavailable" in codes_declared(responses["503"]), where
            if "requestBody" in operation:  # a command
                assert "Idempotency-Key" in headers_in, where
                success = responses["201" if path == ACCOUNTS else "200"]
                assert success["headers"]["ESKIT-Position"]["required"], where
                assert "Idempotent-Replayed" in success["headers"], where
                assert "malformed_json" in codes_declared(responses["400"]), where
                assert "payload_too_large" in codes_declared(responses["413"]), where
                assert "unsupported_media_type" in codes_declared(responses["415"]), where
                assert "idempotency_key_reused" in codes_declared(responses["422"]), where
                assert "concurrency_conflict" in codes_declared(responses["409"]), where
            elif any(p["name"] == "minPosition" for p in operation["parameters"]):
                assert "504" in responses, where  # minPosition waits
    account = schema["paths"][f"{ACCOUNTS}/{{account_id}}"]["get"]["responses"]
    assert "conflicting_parameters" in codes_declared(account["422"])
    withdraw = schema["paths"][f"{ACCOUNTS}/{{account_id}}/withdraw"]["post"]["responses"]
    assert "insufficient_funds" in codes_declared(withdraw["409"])
    assert "not_found" in codes_declared(withdraw["404"])
    deposit = schema["paths"][f"{ACCOUNTS}/{{account_id}}/deposit"]["post"]["responses"]
    assert "balance_limit" in codes_declared(deposit["409"])
    opening = schema["components"]["schemas"]["CreateAccount"]["properties"]
    assert opening["status"]["enum"] == list(STATUSES)
    assert opening["currency"]["enum"] == list(CURRENCY_CODES)


async def test_long_error_details_are_cut_short_not_lost(bank: BankAccountsClient) -> None:
    # the id is in the message, which is sent twice (status details, eskit-error-details):
    # whole both times, the metadata would pass gRPC's soft size limit (8 KiB), past which
    # calls fail at random
    failed = await failure(bank.get_account(pb.GetAccountRequest(id="x" * 5000)))
    assert (failed.status, failed.code) == (grpc.StatusCode.NOT_FOUND, "not_found")
    assert failed.error is not None
    assert failed.error["code"] == "not_found"
    assert failed.error["message"].endswith("…")
    assert len(failed.error["message"]) < 1000
