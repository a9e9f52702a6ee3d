"""Readiness on both backends: 200 while commands can be served, with every projection's
state; ``degraded`` (naming the projection and its error) when one fails, and 503 then for
``?projections=strict``; the same when the projections run in another process.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx
import pytest

from bank_accounts.domain import MoneyDeposited
from bank_accounts.tests.support import ACCOUNTS, RuntimeFactory, account_body, http_client
from eskit.projections import ProjectionRunner
from eskit.serving import ServiceRuntime
from eskit.store import EventStoreBackend

pytestmark = pytest.mark.integration

BY_ID, SEARCH = "bank_accounts_by_id", "bank_accounts_search"


async def ghost_deposit(store: EventStoreBackend) -> int:
    """A deposit to an account never opened (as a buggy import might have written it): the
    documents by id cannot apply it. Its position."""
    event = MoneyDeposited(amount=5, currency="USD", payment_id="p")
    appended = await store.append("ghost", [event], expected_version=0, stream_type="BankAccount")
    return appended.position


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in body["projections"]}


async def ready_until(
    client: httpx.AsyncClient, name: str, state: str, timeout_s: float = 10.0
) -> dict[str, Any]:
    """The readiness body once projection ``name`` is in ``state``."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = await client.get("/health/ready")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if by_name(body)[name]["state"] == state:
            return body
        assert time.monotonic() < deadline, f"{name} never {state}: {body}"
        await asyncio.sleep(0.02)


async def test_ready_is_ok_and_lists_every_projection(client: httpx.AsyncClient) -> None:
    await client.post(ACCOUNTS, json=account_body())
    body = await ready_until(client, BY_ID, "live")
    body = await ready_until(client, SEARCH, "live")
    assert body["status"] == "ok"
    projections = by_name(body)
    assert set(projections) == {BY_ID, SEARCH}
    lease = projections[BY_ID].pop("lease")
    assert projections[BY_ID] == {
        "name": BY_ID,
        "state": "live",
        "healthy": True,
        "position": body["position"],
        "lagEvents": 0,
        "lagSeconds": 0.0,
        "policy": "stop",
        "parked": 0,
        "error": None,
        "errorPosition": None,
        "stalledReason": None,
    }
    assert (lease["state"], lease["pid"]) == ("running_here", os.getpid())
    assert lease["since"] <= lease["beatAt"] < lease["expiresAt"]
    assert projections[SEARCH]["policy"] == "park after 5"
    strict = await client.get("/health/ready", params={"projections": "strict"})
    assert (strict.status_code, strict.json()["status"]) == (200, "ok")


async def test_a_failing_projection_makes_ready_degraded_naming_it_and_its_error(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    ghost = await ghost_deposit(runtime.store)
    body = await ready_until(client, BY_ID, "failing")
    assert body["status"] == "degraded"
    failing = by_name(body)[BY_ID]
    assert (failing["healthy"], failing["errorPosition"]) == (False, ghost)
    assert "LookupError" in failing["error"]
    assert "ghost" in failing["error"]

    strict = await client.get("/health/ready", params={"projections": "strict"})
    assert strict.status_code == 503
    assert strict.json()["status"] == "degraded"
    assert by_name(strict.json())[BY_ID]["state"] == "failing"
    # commands are still served: that is what keeps readiness itself at 200
    assert (await client.post(ACCOUNTS, json=account_body())).status_code == 201


async def test_an_unknown_strictness_is_a_validation_error(client: httpx.AsyncClient) -> None:
    answer = await client.get("/health/ready", params={"projections": "very"})
    assert answer.status_code == 422


async def test_ready_reports_projections_run_by_another_process(
    make_runtime: RuntimeFactory, sql_store: EventStoreBackend
) -> None:
    """``run_projections`` off: the server reads the states the worker stores."""
    server = await make_runtime(grpc=False, run_projections=False)
    async with http_client(server) as client:
        body = (await client.get("/health/ready")).json()
        assert {entry["name"] for entry in body["projections"]} == {BY_ID, SEARCH}
        assert by_name(body)[BY_ID]["lease"]["state"] == "not_running"
        ghost = await ghost_deposit(sql_store)
        # the worker: a runner of the service's projections that the server does not own
        async with ProjectionRunner(sql_store, server.parts.projections, retry_backoff_s=0.05):
            body = await ready_until(client, BY_ID, "failing")
            assert body["status"] == "degraded"
            assert by_name(body)[BY_ID]["errorPosition"] == ghost
            lease = by_name(body)[BY_ID]["lease"]
            assert (lease["state"], lease["pid"]) == ("running_elsewhere", os.getpid())
            strict = await client.get("/health/ready", params={"projections": "strict"})
            assert strict.status_code == 503
