"""The whole flow on real brokers: command → store → relay → broker → consumer → read model."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bank_accounts.activity import ACTIVITY
from bank_accounts.tests.support import (
    ACCOUNTS,
    RuntimeFactory,
    account_body,
    assert_error,
    http_client,
)
from eskit.projections.schema import ensure_tables
from eskit.store import EventStoreBackend, require_transactions
from eskit.testing.brokers import KafkaBroker, NatsServer

pytestmark = pytest.mark.integration


@pytest.fixture(params=["kafka", "nats"])
def bus_url(request: pytest.FixtureRequest) -> str:
    broker: KafkaBroker | NatsServer = request.getfixturevalue(
        "kafka_broker" if request.param == "kafka" else "nats_server"
    )
    return broker.url


async def feed_of(store: EventStoreBackend, account_id: str, items: int) -> list[dict[str, Any]]:
    db = require_transactions(store, "the activity feed")
    await ensure_tables(db, [ACTIVITY])  # the consumer may not have made it yet
    deadline = time.monotonic() + 30
    while True:
        found = await ACTIVITY.get(db, account_id)
        if found is not None and len(found.body["items"]) >= items:
            return list(found.body["items"])
        assert time.monotonic() < deadline, f"the feed of {account_id} never got {items} items"
        await asyncio.sleep(0.1)


async def test_an_accounts_movements_reach_its_feed_through_the_broker(
    make_runtime: RuntimeFactory, sql_store: EventStoreBackend, bus_url: str
) -> None:
    runtime = await make_runtime(grpc=False, bus_url=bus_url, bus_prefix=f"bank{time.time_ns()}")
    async with http_client(runtime) as client:
        opened = await client.post(ACCOUNTS, json=account_body(balance=1000))
        assert opened.status_code == 201, opened.text
        account_id = opened.json()["id"]
        for n in range(3):
            paid = await client.post(
                f"{ACCOUNTS}/{account_id}/deposit", json={"amount": 100 + n, "paymentId": f"p{n}"}
            )
            assert paid.status_code == 200, paid.text

        items = await feed_of(sql_store, account_id, 4)
        answer = await client.get(f"{ACCOUNTS}/{account_id}/activity")

    expected = [
        ("MoneyDeposited", 4, 102),
        ("MoneyDeposited", 3, 101),
        ("MoneyDeposited", 2, 100),
        ("AccountOpened", 1, 1000),
    ]
    assert [(i["type"], i["version"], i.get("amount")) for i in items] == expected
    assert answer.status_code == 200, answer.text
    assert [(i["type"], i["version"], i.get("amount")) for i in answer.json()] == expected
    assert answer.json()[0]["paymentId"] == "p2"


async def test_without_a_bus_the_feed_answers_not_found(make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime(grpc=False)
    async with http_client(runtime) as client:
        opened = await client.post(ACCOUNTS, json=account_body())
        answer = await client.get(f"{ACCOUNTS}/{opened.json()['id']}/activity")

    assert_error(answer, 404, "not_found")
