"""A broker that stops answering never fails a command; the relay says why it waits and
catches up when the broker is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eskit.messaging import Bus, Topology
from eskit.messaging.kafka_bus import KafkaBus
from eskit.messaging.nats_bus import JetStreamBus
from eskit.messaging.relay import Relay
from eskit.store import SQLiteEventStore
from eskit.testing.brokers import KafkaBroker, NatsServer
from tests.messaging.support import (
    drain,
    eventually,
    log_of,
    running,
    versions_by_stream,
    write,
)

pytestmark = pytest.mark.integration

OUTAGE_S = 30.0


@pytest.fixture(params=["kafka", "nats"])
def broker(request: pytest.FixtureRequest) -> Iterator[KafkaBroker | NatsServer]:
    """A broker of the test's own: it is frozen for the outage."""
    with KafkaBroker() if request.param == "kafka" else NatsServer() as started:
        yield started


def bus_on(broker: KafkaBroker | NatsServer) -> Bus:
    topology = Topology(prefix="outage")
    if isinstance(broker, KafkaBroker):
        return KafkaBus(broker.bootstrap_servers, topology, timeout_s=2.0, session_timeout_s=2.0)
    return JetStreamBus(broker.url, topology, timeout_s=2.0)


async def test_commands_go_on_while_the_broker_is_down_and_every_event_arrives_after(
    broker: KafkaBroker | NatsServer, tmp_path: Path
) -> None:
    bus = bus_on(broker)
    async with SQLiteEventStore.open(tmp_path / "events.db") as store:
        relay = Relay(store, bus, max_backoff_s=2.0)
        async with running(relay):
            await write(store, writer=0, count=10)
            head = (await log_of(store))[-1].position

            async def published() -> bool:
                return relay.position >= head

            await eventually(published)

            broker.pause()
            try:
                started = time.monotonic()
                writer = 1
                while time.monotonic() - started < OUTAGE_S:
                    await write(store, writer=writer, count=5)  # no append may fail
                    writer += 1
                    await asyncio.sleep(0.5)
                status = relay.status()
                assert status.state == "stalled"
                assert "did not acknowledge" in (status.error or "")
                assert status.lag > 0
                stored = await store.committed.checkpoints.get(relay.checkpoint)
                assert stored.error == status.error  # visible to other processes too
            finally:
                broker.resume()

            log = await log_of(store)
            received = await drain(bus, "after-outage", len(log), timeout_s=60)
            head = log[-1].position
            await eventually(published)  # its checkpoint follows the broker's acknowledgement
            assert relay.status().state == "running"
            assert relay.status().error is None
        await bus.close()

    expected = {
        stream: [e.version for e in log if e.stream_id == stream]
        for stream in {e.stream_id for e in log}
    }
    assert versions_by_stream(received) == expected
