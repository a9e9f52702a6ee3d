"""Subscriptions: named, checkpointed, filtered, woken by commits, at least once."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eskit.projections import ProjectionRunner, Subscription
from eskit.store import ANY, EventStoreBackend, StoredEvent
from tests.projections.support import committed_head, opened_event
from tests.wallets.domain import Deposited

pytestmark = pytest.mark.integration


def _deposit(n: int) -> Deposited:
    return Deposited(amount=n, payment_id=f"p{n}")


async def test_filtered_in_order_resumes_at_checkpoint(sql_store: EventStoreBackend) -> None:
    seen: list[StoredEvent] = []

    async def collect(batch: Sequence[StoredEvent]) -> None:
        seen.extend(batch)

    sub = Subscription("deposits", collect, event_types=["wallets.Deposited"])
    for stream in ("a", "b"):
        await sql_store.append(
            stream, [opened_event(owner="a")], expected_version=ANY, stream_type="Acc"
        )
    for n in range(1, 21):
        await sql_store.append("ab"[n % 2], [_deposit(n)], expected_version=ANY)
    runner = ProjectionRunner(sql_store, [sub], batch_size=7, poll_interval_s=30)
    async with runner:
        await runner.wait_for(await committed_head(sql_store))
    assert [e.data["amount"] for e in seen] == list(range(1, 21))
    assert all(e.event_type == "wallets.Deposited" for e in seen)
    positions = [e.position for e in seen]
    assert positions == sorted(positions)
    async with runner:  # restarted: nothing again, then only what is new, woken by the commit
        last = await sql_store.append("a", [_deposit(21)], expected_version=ANY)
        await runner.wait_for(last.position, timeout_s=5)
    assert [e.data["amount"] for e in seen] == list(range(1, 22))


async def test_failing_handler_is_retried_at_least_once(sql_store: EventStoreBackend) -> None:
    calls: list[int] = []

    async def flaky(batch: Sequence[StoredEvent]) -> None:
        calls.append(batch[0].position)
        if len(calls) < 3:
            raise ConnectionError("broker away")

    sub = Subscription("flaky", flaky)
    last = await sql_store.append("x", [opened_event(owner="a")], expected_version=0)
    async with ProjectionRunner(sql_store, [sub], retry_backoff_s=0.01) as runner:
        await runner.wait_for(last.position, timeout_s=10)
        (status,) = await runner.status()
    assert calls == [last.position] * 3
    assert status.state == "live"
    assert status.error is None
