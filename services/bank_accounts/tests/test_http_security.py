"""API keys and request ids over HTTP."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bank_accounts.tests.support import (
    ACCOUNTS,
    RuntimeFactory,
    account_body,
    assert_error,
    events_of,
    http_client,
    open_account,
    payment,
    stored_events,
)
from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.integration

KEYS = ("k1-secret-value", "k2-other-secret")


@pytest.fixture
async def keyed(make_runtime: RuntimeFactory) -> ServiceRuntime:
    """A service that needs one of ``KEYS``."""
    return await make_runtime(grpc=False, api_keys=",".join(KEYS))


@pytest.fixture
async def authorized(keyed: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(keyed, Authorization=f"Bearer {KEYS[0]}") as client:
        yield client


@pytest.fixture
async def anonymous(keyed: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(keyed) as client:
        yield client


BAD_CREDENTIALS = [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": f"Bearer {KEYS[0]}x"},
    {"Authorization": f"Bearer {KEYS[0].upper()}"},
    {"Authorization": f"Basic {KEYS[0]}"},
    {"Authorization": KEYS[0]},
    {"Authorization": "Bearer "},
    {"X-API-Key": KEYS[0]},
]


async def test_calls_without_a_valid_key_are_refused_and_change_nothing(
    keyed: ServiceRuntime, authorized: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    account_id = (await open_account(authorized, balance=100))["id"]
    calls = [
        ("POST", ACCOUNTS, account_body()),
        ("POST", f"{ACCOUNTS}/{account_id}/deposit", payment(5)),
        ("POST", f"{ACCOUNTS}/{account_id}/withdraw", payment(5)),
        ("PUT", f"{ACCOUNTS}/{account_id}/email", {"email": "x@y.org"}),
        ("GET", f"{ACCOUNTS}/{account_id}", None),
        ("GET", ACCOUNTS, None),
        ("GET", f"{ACCOUNTS}/{account_id}/events", None),
    ]
    for headers in BAD_CREDENTIALS:
        for method, url, body in calls:
            response = await anonymous.request(method, url, json=body, headers=headers)
            assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert not any(key in response.text for key in KEYS)
    [event] = await stored_events(keyed.store)
    assert len(await events_of(authorized, account_id)) == 1
    found = (await authorized.get(ACCOUNTS, params={"minPosition": event.position})).json()
    assert [item["id"] for item in found["items"]] == [account_id]


async def test_every_configured_key_works_and_health_stays_open(
    keyed: ServiceRuntime, anonymous: httpx.AsyncClient
) -> None:
    for key in KEYS:
        for scheme in ("Bearer", "bearer"):
            headers = {"Authorization": f"{scheme} {key}"}
            response = await anonymous.post(ACCOUNTS, json=account_body(), headers=headers)
            assert response.status_code == 201, response.text
    assert len(await stored_events(keyed.store)) == 4
    for path in ("/health/live", "/health/ready", "/openapi.json"):
        assert (await anonymous.get(path)).status_code == 200, path


async def test_events_name_a_fingerprint_of_the_key_never_the_key(
    keyed: ServiceRuntime, authorized: httpx.AsyncClient
) -> None:
    account_id = (await open_account(authorized))["id"]
    await authorized.post(f"{ACCOUNTS}/{account_id}/deposit", json=payment(5))
    events = await events_of(authorized, account_id)
    fingerprint = "api-key:" + hashlib.sha256(KEYS[0].encode()).hexdigest()[:12]
    assert [e["metadata"]["actor"] for e in events] == [fingerprint, fingerprint]
    for record in await stored_events(keyed.store):
        stored = json.dumps([dict(record.metadata), dict(record.data)])
        assert not any(key in stored for key in KEYS)


async def test_idempotency_keys_of_different_callers_do_not_meet(
    keyed: ServiceRuntime, anonymous: httpx.AsyncClient
) -> None:
    replies = []
    for key in KEYS:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "open-1"}
        response = await anonymous.post(ACCOUNTS, json=account_body(), headers=headers)
        assert response.status_code == 201, response.text
        replies.append(response.json()["id"])
    assert replies[0] != replies[1]
    assert len(await stored_events(keyed.store)) == 2


# -- request ids -------------------------------------------------------------------------

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def test_every_answer_has_a_fresh_request_id(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    answers = [
        await client.post(ACCOUNTS, json=account_body()),
        await client.get(f"{ACCOUNTS}/nobody"),
        await client.post(ACCOUNTS, json={}),
        await client.get("/health/live"),
        await anonymous.get(ACCOUNTS),
    ]
    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert all(UUID.match(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)


async def test_a_sane_request_id_is_echoed_and_correlates_the_events(
    client: httpx.AsyncClient,
) -> None:
    headers = {"X-Request-ID": "req-123.abc:XYZ_9"}
    opened = await client.post(ACCOUNTS, json=account_body(), headers=headers)
    assert opened.headers["X-Request-ID"] == "req-123.abc:XYZ_9"
    account_id = opened.json()["id"]
    failed = await client.get(f"{ACCOUNTS}/nobody", headers={"X-Request-ID": "req-404"})
    assert failed.headers["X-Request-ID"] == "req-404"
    await client.post(
        f"{ACCOUNTS}/{account_id}/deposit", json=payment(5), headers={"X-Request-ID": "req-2"}
    )
    events = await events_of(client, account_id)
    assert [e["metadata"]["correlation_id"] for e in events] == ["req-123.abc:XYZ_9", "req-2"]


async def test_a_missing_or_unusable_request_id_is_replaced_by_a_new_one(
    client: httpx.AsyncClient,
) -> None:
    given = [None, "has space", "x" * 129, "semi;colon", "back\\slash", "<script>", "ünïcode", ""]
    for request_id in given:
        headers = [] if request_id is None else [(b"X-Request-ID", request_id.encode("utf-8"))]
        response = await client.post(ACCOUNTS, json=account_body(), headers=headers)
        answered = response.headers["X-Request-ID"]
        assert UUID.match(answered), request_id
        [event] = await events_of(client, response.json()["id"])
        assert event["metadata"]["correlation_id"] == answered
        assert "actor" not in event["metadata"]  # no API keys, no actor
    longest = "x" * 128
    response = await client.get("/health/live", headers={"X-Request-ID": longest})
    assert response.headers["X-Request-ID"] == longest
