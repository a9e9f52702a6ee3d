"""Scraping ``/metrics`` after a known workload over HTTP: the numbers say what happened."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bank_accounts.domain import MoneyDeposited
from bank_accounts.tests.support import (
    ACCOUNTS,
    RuntimeFactory,
    deposit,
    http_client,
    open_account,
    position_of,
    withdraw,
)
from eskit.serving import ServiceRuntime
from eskit.store import ANY, EventStoreBackend
from eskit.testing.metrics import Scrape

pytestmark = pytest.mark.integration

CREATES, DEPOSITS, REFUSALS = 4, 6, 3


async def scrape(client: httpx.AsyncClient) -> Scrape:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


def commands(scraped: Scrape, command: str, outcome: str, code: str = "") -> float:
    labels = {"command": command, "outcome": outcome, "code": code}
    return scraped.value("eskit_commands_total", labels)


def handled(scraped: Scrape, command: str, outcome: str) -> float:
    labels = {"command": command, "outcome": outcome}
    return scraped.value("eskit_command_duration_seconds_count", labels)


async def workload(client: httpx.AsyncClient) -> int:
    """CREATES accounts, DEPOSITS deposits, REFUSALS overdrafts; the last position."""
    accounts = [(await open_account(client, balance=10))["id"] for _ in range(CREATES)]
    last = 0
    for i in range(DEPOSITS):
        answer = await deposit(client, accounts[i % CREATES], 5)
        assert answer.status_code == 200, answer.text
        last = max(last, position_of(answer))
    for i in range(REFUSALS):
        answer = await withdraw(client, accounts[i % CREATES], 1_000_000)
        assert answer.status_code == 409, answer.text
    return last


async def test_scrape_counts_each_command_by_type_and_outcome(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = await make_runtime(grpc=False)
    async with http_client(runtime) as client:
        before = await scrape(client)
        await workload(client)
        after = await scrape(client)

    def delta(f: object, *args: str) -> float:
        assert callable(f)
        return float(f(after, *args) - f(before, *args))

    assert delta(commands, "OpenAccount", "ok") == CREATES
    assert delta(commands, "DepositMoney", "ok") == DEPOSITS
    assert delta(commands, "WithdrawMoney", "refused", "insufficient_funds") == REFUSALS
    assert delta(handled, "OpenAccount", "ok") == CREATES
    assert delta(handled, "DepositMoney", "ok") == DEPOSITS
    assert delta(handled, "WithdrawMoney", "refused") == REFUSALS
    appends = after.total("eskit_appends_total", stream_type="BankAccount") - before.total(
        "eskit_appends_total", stream_type="BankAccount"
    )
    events = after.total("eskit_events_appended_total", stream_type="BankAccount") - before.total(
        "eskit_events_appended_total", stream_type="BankAccount"
    )
    assert (appends, events) == (CREATES + DEPOSITS, CREATES + DEPOSITS)


async def test_a_conflict_with_another_writer_is_counted_and_retried(
    make_runtime: RuntimeFactory, sql_store: EventStoreBackend
) -> None:
    runtime = await make_runtime(grpc=False)
    async with http_client(runtime) as client:
        account_id = (await open_account(client, balance=10))["id"]
        assert (await deposit(client, account_id, 1)).status_code == 200  # now cached
        opened = (await client.get(f"{ACCOUNTS}/{account_id}/events")).json()[0]
        currency = opened["data"]["currency"]
        # another process writes: the handler's cached account is stale
        other = MoneyDeposited(amount=2, currency=currency, payment_id="elsewhere")
        await sql_store.append(account_id, [other], expected_version=ANY, stream_type="BankAccount")
        before = await scrape(client)
        assert (await deposit(client, account_id, 3)).status_code == 200
        after = await scrape(client)
    retries = ("eskit_command_retries_total", {"command": "DepositMoney"})
    conflicts = ("eskit_append_conflicts_total", {"stream_type": "BankAccount"})
    assert after.value(*retries) - before.value(*retries) == 1
    assert after.value(*conflicts) - before.value(*conflicts) == 1
    assert commands(after, "DepositMoney", "ok") - commands(before, "DepositMoney", "ok") == 1


async def test_projections_are_live_with_no_lag_once_caught_up(
    runtime: ServiceRuntime,
) -> None:
    async with http_client(runtime) as client:
        before = await scrape(client)
        last = await workload(client)
        accounts = (await client.get(ACCOUNTS, params={"minPosition": last})).json()
        assert accounts["total"] >= CREATES
        await _caught_up(runtime, last)
        assert runtime.metrics is not None
        await runtime.metrics.collect()
        after = await scrape(client)
    names = {p.name for p in runtime.parts.projections}
    assert names <= after.labelled("eskit_projection_lag_events", "projection")
    for name in names:
        labels = {"projection": name}
        assert after.value("eskit_projection_lag_events", labels) == 0
        assert after.value("eskit_projection_lag_seconds", labels) == 0
        assert after.value("eskit_projection_position", labels) >= last
        assert after.value("eskit_projection_state", {**labels, "state": "live"}) == 1
        assert after.value("eskit_projection_state", {**labels, "state": "failing"}) == 0
        handled_now = after.value("eskit_projection_events_total", labels)
        assert handled_now > before.value("eskit_projection_events_total", labels)
    assert after.value("eskit_store_read_horizon_age_seconds") == 0
    assert after.value("eskit_store_pool_waiting_requests") == 0


async def _caught_up(runtime: ServiceRuntime, position: int) -> None:
    assert runtime.runner is not None
    await runtime.runner.wait_for(position, timeout_s=10)
    await asyncio.sleep(0)


async def test_metrics_need_the_api_key_when_keys_are_set(make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime(grpc=False, api_keys="k1")
    async with http_client(runtime) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    async with http_client(runtime, Authorization="Bearer k1") as client:
        assert "eskit_commands" in (await scrape(client)).families


async def test_metrics_are_not_in_the_openapi_schema(runtime: ServiceRuntime) -> None:
    assert "/metrics" not in runtime.app.openapi()["paths"]
