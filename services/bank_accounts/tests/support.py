"""Helpers shared by the HTTP and gRPC tests of the bank-account service."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from eskit.serving import ServiceRuntime
from eskit.store import EventStoreBackend, StoredEvent

ACCOUNTS = "/api/v1/accounts"

SYMBOL_SEARCHES = (
    *("%", "%%", "_", "*", ".*", "\\", "!:*", "<->", "^", '"', "(", ")", "{}", "[", "--"),
    *("/*", ";", "' OR '1'='1", "&|!"),
)
"""Searches made only of symbols (wildcards and operators of LIKE, full-text queries, regular
expressions and SQL): they hold no word, so they match no account on any store."""

RuntimeFactory = Callable[..., Awaitable[ServiceRuntime]]
"""``make_runtime(grpc=True, **settings)``: the service started over the test's store."""


def http_client(runtime: ServiceRuntime, **headers: str) -> httpx.AsyncClient:
    """An httpx client speaking to the runtime's app in-process (no socket)."""
    transport = httpx.ASGITransport(app=runtime.app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://bank.test", headers=headers)


_payment_numbers = itertools.count(1)
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,}(Z|\+00:00)$")


def account_body(**overrides: Any) -> dict[str, Any]:
    """A valid body to open an account, with ``overrides`` (a value of ``...`` drops a field)."""
    body: dict[str, Any] = {
        "email": "ann.lee@example.com",
        "address": "1 Main St",
        "firstName": "Ann",
        "lastName": "Lee",
        "balance": 1000,
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not ...}


async def open_account(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Open an account (see :func:`account_body`); its reply ``{"id", "version"}``."""
    response = await client.post(ACCOUNTS, json=account_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def payment(amount: Any, payment_id: Any = None, **extra: Any) -> dict[str, Any]:
    """A deposit or withdrawal body; a fresh payment id unless given."""
    if payment_id is None:
        payment_id = f"pay-{next(_payment_numbers)}"
    return {"amount": amount, "paymentId": payment_id, **extra}


async def deposit(
    client: httpx.AsyncClient, account_id: str, amount: Any, payment_id: Any = None
) -> httpx.Response:
    """POST a deposit."""
    return await client.post(f"{ACCOUNTS}/{account_id}/deposit", json=payment(amount, payment_id))


async def withdraw(
    client: httpx.AsyncClient, account_id: str, amount: Any, payment_id: Any = None
) -> httpx.Response:
    """POST a withdrawal."""
    return await client.post(f"{ACCOUNTS}/{account_id}/withdraw", json=payment(amount, payment_id))


async def get_account(client: httpx.AsyncClient, account_id: str, **params: Any) -> dict[str, Any]:
    """GET the account (200 expected) with query ``params``."""
    response = await client.get(f"{ACCOUNTS}/{account_id}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def events_of(client: httpx.AsyncClient, account_id: str) -> list[dict[str, Any]]:
    """The account's events, as the events endpoint shows them."""
    response = await client.get(f"{ACCOUNTS}/{account_id}/events")
    assert response.status_code == 200, response.text
    return list(response.json())


async def stored_events(store: EventStoreBackend) -> list[StoredEvent]:
    """Every event committed to the store, in position order.

    Global reads stop at the read horizon, which a transaction still open (a projection's
    batch, on PostgreSQL) holds back for a moment: wait until it holds nothing back.
    """
    deadline = time.monotonic() + 5
    while (await store.read_horizon()).pending_events:
        assert time.monotonic() < deadline, "the read horizon does not move"
        await asyncio.sleep(0.005)
    return await store.read_batch(after=0, limit=100_000)


def position_of(response: httpx.Response) -> int:
    """The ``ESKIT-Position`` of a command's answer."""
    return int(response.headers["ESKIT-Position"])


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is an error of ``status`` and ``code`` in eskit's shape; its ``error``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, body
    assert error["code"] == code, body
    assert isinstance(error["message"], str)
    assert error["message"]
    assert response.headers.get("X-Request-ID")
    return dict(error)


def bad_fields(error: dict[str, Any]) -> set[str]:
    """The names of the fields a validation error lists (the last part of each ``loc``)."""
    assert error["details"], error
    return {str(detail["loc"][-1]) for detail in error["details"]}


def parse_time(text: str) -> datetime:
    """An API timestamp: ISO-8601, UTC, at least to the millisecond."""
    assert _TIMESTAMP.match(text), text
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert moment.utcoffset() == UTC.utcoffset(None)
    return moment
