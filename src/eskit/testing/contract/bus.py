"""The bus contract: what every adapter of ``eskit.messaging.Bus`` must do.

Subclass ``BusContract`` under a name pytest collects and implement ``make_bus``; each test
gets a bus under a topic prefix of its own, closed afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio

from eskit.messaging import Bus, BusConsumer, Delivery, OutgoingMessage, Topology

__all__ = ["BusContract", "collect", "messages"]

WAIT_S = 20.0
"""How long a test waits for what it expects: a Kafka group's first join takes seconds."""


def messages(count: int, *, keys: int = 5, stream_type: str = "account") -> list[OutgoingMessage]:
    """``count`` messages spread over ``keys`` keys, numbered in each key's order."""
    return [
        OutgoingMessage(
            message_id=str(uuid.uuid4()),
            stream_type=stream_type,
            key=f"{stream_type}-{i % keys}",
            body=b'{"n": %d}' % i,
            headers={"eskit-event-type": "Numbered", "eskit-n": str(i)},
        )
        for i in range(count)
    ]


async def collect(
    consumer: BusConsumer, count: int, *, ack: bool = True, timeout_s: float = WAIT_S
) -> list[Delivery]:
    """Fetch until ``count`` distinct messages arrived (or the time runs out)."""
    seen: dict[str, Delivery] = {}
    received: list[Delivery] = []
    deadline = time.monotonic() + timeout_s
    while len(seen) < count and time.monotonic() < deadline:
        batch = await consumer.fetch(500, min(1.0, max(deadline - time.monotonic(), 0.01)))
        received += batch
        seen.update((d.message_id, d) for d in batch)
        if ack and batch:
            await consumer.ack(batch)
    return received


def _by_key(deliveries: Sequence[Delivery]) -> dict[str, list[int]]:
    order: dict[str, list[int]] = defaultdict(list)
    for delivery in deliveries:
        order[delivery.key].append(int(delivery.headers["eskit-n"]))
    return order


class BusContract:
    """The contract of the bus port, for one adapter."""

    pytestmark = [pytest.mark.asyncio(loop_scope="function")]

    def make_bus(self, request: pytest.FixtureRequest, topology: Topology) -> Bus:
        """A bus under ``topology``, with nothing published under its prefix yet."""
        raise NotImplementedError

    @pytest_asyncio.fixture(loop_scope="function")
    async def bus(self, request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
        """The bus of ``make_bus`` under a prefix of this test's own."""
        bus = self.make_bus(request, Topology(prefix=f"t{uuid.uuid4().hex[:12]}"))
        try:
            yield bus
        finally:
            await bus.close()

    async def test_a_group_receives_every_message_with_its_body_key_and_headers(
        self, bus: Bus
    ) -> None:
        sent = messages(20)
        await bus.publish(sent)

        async with bus.consumer("readers", ["account"]) as consumer:
            received = await collect(consumer, len(sent))

        got = {d.message_id: d for d in received}
        assert set(got) == {m.message_id for m in sent}
        for message in sent:
            delivery = got[message.message_id]
            assert (delivery.key, delivery.body) == (message.key, message.body)
            assert dict(delivery.headers) == dict(message.headers)
            assert delivery.attempt == 1

    async def test_each_key_keeps_the_order_it_was_published_in(self, bus: Bus) -> None:
        sent = messages(300, keys=7)
        for start in range(0, len(sent), 50):
            await bus.publish(sent[start : start + 50])

        async with bus.consumer("readers", ["account"]) as consumer:
            received = await collect(consumer, len(sent))

        assert len({d.message_id for d in received}) == len(sent)
        for key, numbers in _by_key(received).items():
            assert numbers == sorted(numbers), f"{key} out of order"

    async def test_every_group_receives_every_message(self, bus: Bus) -> None:
        sent = messages(30)
        await bus.publish(sent)

        for group in ("search", "audit"):
            async with bus.consumer(group, ["account"]) as consumer:
                received = await collect(consumer, len(sent))
            assert {d.message_id for d in received} == {m.message_id for m in sent}, group

    async def test_a_group_does_not_see_acknowledged_messages_again(self, bus: Bus) -> None:
        first, second = messages(10), messages(10)
        await bus.publish(first)
        async with bus.consumer("readers", ["account"]) as consumer:
            await collect(consumer, len(first))

        await bus.publish(second)
        async with bus.consumer("readers", ["account"]) as consumer:
            received = await collect(consumer, len(second))
            late = await consumer.fetch(100, 1.0)

        ids = {d.message_id for d in [*received, *late]}
        assert ids == {m.message_id for m in second}

    async def test_messages_not_acknowledged_come_again_when_the_member_leaves(
        self, bus: Bus
    ) -> None:
        sent = messages(10)
        await bus.publish(sent)
        async with bus.consumer("readers", ["account"]) as consumer:
            unacked = await collect(consumer, len(sent), ack=False)
        assert {d.message_id for d in unacked} == {m.message_id for m in sent}

        async with bus.consumer("readers", ["account"]) as consumer:
            again = await collect(consumer, len(sent), timeout_s=WAIT_S * 2)

        assert {d.message_id for d in again} == {m.message_id for m in sent}

    async def test_retry_later_delivers_the_message_again_and_counts_the_attempt(
        self, bus: Bus
    ) -> None:
        [message] = messages(1)
        await bus.publish([message])

        async with bus.consumer("readers", ["account"]) as consumer:
            [first] = await collect(consumer, 1, ack=False)
            await consumer.retry_later(first, 0.2)
            retried = await collect(consumer, 1)

        assert [d.message_id for d in retried] == [message.message_id]
        assert retried[0].attempt == 2

    async def test_a_consumer_reads_only_the_stream_types_it_names(self, bus: Bus) -> None:
        accounts = messages(5, stream_type="account")
        invoices = messages(5, stream_type="invoice")
        await bus.publish([*accounts, *invoices])

        async with bus.consumer("invoicing", ["invoice"]) as consumer:
            received = await collect(consumer, len(invoices))
            more = await consumer.fetch(100, 1.0)

        assert {d.message_id for d in [*received, *more]} == {m.message_id for m in invoices}

    async def test_keys_and_types_with_dots_and_spaces_travel_unchanged(self, bus: Bus) -> None:
        message = OutgoingMessage(
            message_id=str(uuid.uuid4()),
            stream_type="bank.account",
            key="order.42 *>",
            body=b"{}",
            headers={"eskit-n": "0"},
        )
        await bus.publish([message])

        async with bus.consumer("readers", ["bank.account"]) as consumer:
            [delivery] = await collect(consumer, 1)

        assert (delivery.message_id, delivery.key) == (message.message_id, message.key)

    async def test_members_of_a_group_share_the_messages_and_lose_none(self, bus: Bus) -> None:
        sent = messages(200, keys=20)
        seen: list[Delivery] = []
        done = asyncio.Event()

        async def member() -> None:
            async with bus.consumer("workers", ["account"]) as consumer:
                while not done.is_set():
                    batch = await consumer.fetch(50, 0.5)
                    seen.extend(batch)
                    await consumer.ack(batch)
                    if {d.message_id for d in seen} >= {m.message_id for m in sent}:
                        done.set()

        members = [asyncio.create_task(member()) for _ in range(2)]
        await asyncio.sleep(0.5)
        await bus.publish(sent)
        try:
            await asyncio.wait_for(done.wait(), WAIT_S * 2)
        finally:
            done.set()
            await asyncio.gather(*members)

        assert {d.message_id for d in seen} == {m.message_id for m in sent}
