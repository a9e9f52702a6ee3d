"""Waiting from another process's point of view: for the store's head, a stream's version,
a projection's checkpoint. Each returns once what it waits for is there, and no later than
its bound otherwise."""

from __future__ import annotations

import asyncio
import time

import pytest

from eskit.errors import NotCaughtUpError, NotFoundError
from eskit.projections import (
    ProjectionRunner,
    wait_for_checkpoint,
    wait_for_head,
    wait_for_stream_version,
)
from eskit.store import ANY, EventStoreBackend, require_transactions
from tests.projections.support import opened_event
from tests.wallets.domain import Deposited
from tests.wallets.projections import WalletsById

pytestmark = pytest.mark.integration


async def _append_later(store: EventStoreBackend, stream_id: str, delay_s: float) -> int:
    await asyncio.sleep(delay_s)
    done = await store.append(
        stream_id, [Deposited(amount=1, payment_id=f"p{delay_s}")], expected_version=ANY
    )
    return done.position


async def test_wait_for_head_returns_the_head_once_it_reaches_the_position(
    store: EventStoreBackend,
) -> None:
    first = await store.append("w-1", [opened_event()], expected_version=0)
    assert await wait_for_head(store, first.position, timeout_s=1) == first.position

    later = asyncio.create_task(_append_later(store, "w-1", 0.05))
    head = await wait_for_head(store, first.position + 1, timeout_s=5)

    assert head == await later


async def test_wait_for_head_past_the_bound_says_how_far_the_store_got(
    store: EventStoreBackend,
) -> None:
    first = await store.append("w-1", [opened_event()], expected_version=0)
    started = time.monotonic()

    with pytest.raises(NotCaughtUpError) as caught:
        await wait_for_head(store, first.position + 10**9, timeout_s=0.2)

    assert 0.19 <= time.monotonic() - started < 2.0
    assert (caught.value.subject, caught.value.reached) == ("the event store", first.position)
    assert str(caught.value).startswith("the event store reached position")


async def test_wait_for_stream_version_returns_that_event_once_written(
    store: EventStoreBackend,
) -> None:
    await store.append("w-1", [opened_event()], expected_version=0)
    assert (await wait_for_stream_version(store, "w-1", 1, timeout_s=1)).version == 1

    later = asyncio.create_task(_append_later(store, "w-1", 0.05))
    event = await wait_for_stream_version(store, "w-1", 2, timeout_s=5)

    assert (event.version, event.position) == (2, await later)
    assert event.event_type == Deposited.event_type


async def test_wait_for_a_version_a_stream_does_not_reach_is_bounded(
    store: EventStoreBackend,
) -> None:
    await store.append("w-1", [opened_event()], expected_version=0)

    with pytest.raises(NotCaughtUpError) as caught:
        await wait_for_stream_version(store, "w-1", 3, timeout_s=0.1)

    assert (caught.value.name, caught.value.unit) == ("w-1", "version")
    assert (caught.value.wanted, caught.value.reached) == (3, 1)
    assert str(caught.value).startswith("stream 'w-1' reached version 1, not 3")


async def test_wait_for_a_version_of_a_missing_stream_is_not_found_at_once(
    store: EventStoreBackend,
) -> None:
    started = time.monotonic()

    with pytest.raises(NotFoundError, match="Wallet 'nobody' not found"):
        await wait_for_stream_version(store, "nobody", 1, timeout_s=5, what="Wallet")

    assert time.monotonic() - started < 1.0


async def test_wait_for_checkpoint_follows_a_runner_elsewhere(
    sql_store: EventStoreBackend,
) -> None:
    db = require_transactions(sql_store, "tests")
    async with ProjectionRunner(sql_store, [WalletsById()]):
        done = await sql_store.append("w-1", [opened_event()], expected_version=0)
        reached = await wait_for_checkpoint(db, WalletsById.name, done.position, timeout_s=5)
        assert reached >= done.position
    with pytest.raises(NotCaughtUpError, match=WalletsById.name):
        await wait_for_checkpoint(db, WalletsById.name, done.position + 10**9, timeout_s=0.1)
