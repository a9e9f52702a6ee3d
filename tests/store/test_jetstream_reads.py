"""JetStream adapter reads that the shared contract cannot set up: records eskit did not
write, and the payload read agreeing with the full one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import nats
import pytest

from eskit.domain.events import Event
from eskit.errors import CorruptRecordError
from eskit.store import NO_STREAM
from eskit.store.jetstream import JetStreamEventStore
from eskit.store.jetstream.records import payload_of
from eskit.testing.brokers import NatsServer
from eskit.testing.jetstream import fresh_jetstream_store

pytestmark = pytest.mark.integration


class Happened(Event):
    n: int


@pytest.fixture
async def store(nats_server: NatsServer) -> AsyncIterator[JetStreamEventStore]:
    async with fresh_jetstream_store(nats_server.url) as opened:
        yield opened


async def _publish_foreign(server: NatsServer, subject: str) -> int:
    """A record on ``subject`` without eskit's headers; its sequence."""
    client = await nats.connect(server.url)
    try:
        ack = await client.jetstream().publish(subject, b"not an eskit event")
        return ack.seq
    finally:
        await client.close()


async def test_read_payloads_equals_payloads_of_read_stream(store: JetStreamEventStore) -> None:
    await store.append("s", [Happened(n=n) for n in range(5)], expected_version=NO_STREAM)
    await store.append("other", [Happened(n=9)], expected_version=NO_STREAM)
    await store.append("s", [Happened(n=n) for n in range(5, 8)], expected_version=5)

    expected = [payload_of(e) for e in await store.read_stream("s", from_version=3, to_version=7)]

    assert await store.read_payloads("s", from_version=3, to_version=7) == expected
    assert [p.version for p in expected] == [3, 4, 5, 6, 7]


async def test_read_payloads_of_a_foreign_record_raises_corrupt_record_error_naming_it(
    store: JetStreamEventStore, nats_server: NatsServer
) -> None:
    await store.append("s", [Happened(n=1)], expected_version=NO_STREAM)
    sequence = await _publish_foreign(nats_server, store.names.event_subject("", "s", first=True))

    with pytest.raises(CorruptRecordError) as caught:
        await store.read_payloads("s")

    assert caught.value.where.endswith(f"sequence {sequence}")


async def test_read_stream_of_a_foreign_record_raises_corrupt_record_error(
    store: JetStreamEventStore, nats_server: NatsServer
) -> None:
    await store.append("s", [Happened(n=1)], expected_version=NO_STREAM)
    await _publish_foreign(nats_server, store.names.event_subject("", "s", first=True))

    with pytest.raises(CorruptRecordError):
        await store.read_stream("s")


async def test_recorded_at_is_when_the_server_stored_the_event_in_utc(
    store: JetStreamEventStore,
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    await store.append("s", [Happened(n=1)], expected_version=NO_STREAM)
    after = datetime.now(UTC)

    (event,) = await store.read_stream("s")

    assert before <= event.recorded_at <= after
    assert event.recorded_at.utcoffset() == timedelta(0)
