"""Pages of the JetStream store's log read while another writer appends."""

from __future__ import annotations

import asyncio

import pytest

from eskit.store import ANY
from eskit.testing.brokers import NatsServer
from eskit.testing.contract._events import added
from eskit.testing.jetstream import fresh_jetstream_store

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stream_types", [None, ["cart"]])
async def test_a_page_holds_every_event_up_to_its_head_while_others_append(
    nats_server: NatsServer, stream_types: list[str] | None
) -> None:
    async with fresh_jetstream_store(nats_server.url) as store:
        stop = asyncio.Event()

        async def append_until_stopped() -> None:
            n = 0
            while not stop.is_set():
                await store.append(
                    f"cart-{n % 3}", [added(str(n))], expected_version=ANY, stream_type="cart"
                )
                n += 1

        writer = asyncio.create_task(append_until_stopped())
        try:
            after = 0
            for _ in range(40):
                page = await store.read_page(after=after, limit=1000, stream_types=stream_types)
                everything = await store.read_batch(after=after, limit=100_000)
                # a reader moves its checkpoint to the head of a short page: nothing up to
                # it may be missing from the page
                assert [e.position for e in page.events] == [
                    e.position for e in everything if e.position <= page.head
                ]
                after = page.head
        finally:
            stop.set()
            await writer


async def test_counting_a_span_of_the_log_counts_no_event_past_its_end(
    nats_server: NatsServer,
) -> None:
    async with fresh_jetstream_store(nats_server.url) as store:
        first = await store.append("cart-1", [added("a"), added("b")], expected_version=0)
        await store.append("cart-1", [added("c"), added("d")], expected_version=2)

        span = await store.count_events(after=0, up_to=first.position)
        page = await store.read_page(after=0, limit=1)

    assert span.count == 2
    assert [e.data["item"] for e in page.events] == ["a"]
