"""Bad input to the JetStream store: records it did not write stop readers with an error
naming their sequence, bad options and over-large appends are refused before anything is
written, and an event id stays unique long after the server's duplicate window."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js.client import JetStreamContext

from eskit.domain import Event
from eskit.errors import ConfigurationError, CorruptRecordError, DuplicateEventError
from eskit.store import ANY, NO_STREAM, NewEvent, SplitStore, open_store
from eskit.store.jetstream import JetStreamEventStore
from eskit.testing.brokers import NatsServer
from eskit.testing.jetstream import drop_jetstream_store, fresh_jetstream_store, fresh_store_name

pytestmark = pytest.mark.integration


class Noted(Event):
    n: int


@pytest.fixture
async def store(nats_server: NatsServer) -> AsyncIterator[JetStreamEventStore]:
    async with fresh_jetstream_store(nats_server.url) as fresh:
        yield fresh


def headers_like_eskit(**changed: str | None) -> dict[str, str]:
    """The headers eskit gives an event, with some changed (None: left out)."""
    headers = {
        "Nats-Msg-Id": str(uuid.uuid4()),
        "Eskit-Version": "2",
        "Eskit-Event-Type": "Noted",
        "Eskit-Schema-Version": "1",
    }
    for key, value in changed.items():
        name = f"Eskit-{key.replace('_', '-').title()}" if key != "msg_id" else "Nats-Msg-Id"
        if value is None:
            headers.pop(name)
        else:
            headers[name] = value
    return headers


GOOD_BODY = b'{}\n{"n": 2}'
DAMAGED = {
    "a plain message": (None, b"hello", "s"),
    "a body on one line": (headers_like_eskit(), b'{"n": 2}', "s"),
    "a version that is no number": (headers_like_eskit(version="two"), GOOD_BODY, "s"),
    "no event type": (headers_like_eskit(event_type=None), GOOD_BODY, "s"),
    "a schema version that is no number": (
        headers_like_eskit(schema_version="1.5"),
        GOOD_BODY,
        "s",
    ),
    "a message id that is no UUID": (headers_like_eskit(msg_id="order-17"), GOOD_BODY, "s"),
    "a stream id spelled as the store never does": (headers_like_eskit(), GOOD_BODY, "~cw"),
}


async def test_a_record_with_eskit_headers_and_body_reads_as_an_event(
    store: JetStreamEventStore, js: JetStreamContext
) -> None:
    """The control for the damaged records below: only what each of them changes is wrong."""
    await store.append("s", [Noted(n=1)], expected_version=NO_STREAM, stream_type="t")
    headers = headers_like_eskit()
    ack = await js.publish(f"{store.names.name}.t.s.n", GOOD_BODY, headers=headers)
    [event] = await store.read_batch(after=ack.seq - 1)
    assert (event.stream_id, event.version, event.data) == ("s", 2, {"n": 2})
    assert str(event.event_id) == headers["Nats-Msg-Id"]


@pytest.mark.parametrize("damage", DAMAGED)
async def test_a_record_eskit_did_not_write_stops_readers_naming_its_sequence(
    store: JetStreamEventStore, js: JetStreamContext, damage: str
) -> None:
    headers, body, stream_token = DAMAGED[damage]
    await store.append("s", [Noted(n=1)], expected_version=NO_STREAM, stream_type="t")
    ack = await js.publish(f"{store.names.name}.t.{stream_token}.n", body, headers=headers)
    later = await store.append("other", [Noted(n=3)], expected_version=NO_STREAM)
    with pytest.raises(CorruptRecordError, match=f"sequence {ack.seq}:"):
        await store.read_batch()
    with pytest.raises(CorruptRecordError, match=f"sequence {ack.seq}:"):
        await store.read_batch(after=ack.seq - 1, limit=1)
    # past it only on purpose: a reader that moves its checkpoint beyond the record
    assert [e.position for e in await store.read_batch(after=ack.seq)] == [later.position]
    if stream_token == "s":
        with pytest.raises(CorruptRecordError, match=f"sequence {ack.seq}:"):
            await store.read_stream("s")


async def test_an_append_after_a_foreign_record_raises_and_writes_nothing(
    store: JetStreamEventStore, js: JetStreamContext
) -> None:
    await store.append("s", [Noted(n=1)], expected_version=NO_STREAM, stream_type="t")
    ack = await js.publish(f"{store.names.name}.t.s.n", b"hello")
    with pytest.raises(CorruptRecordError, match=f"sequence {ack.seq}:"):
        await store.append("s", [Noted(n=2)], expected_version=1)
    assert await store.last_position() == ack.seq


async def test_a_foreign_record_on_an_id_subject_is_reported_not_taken_for_an_event(
    store: JetStreamEventStore, js: JetStreamContext
) -> None:
    taken = uuid.uuid4()
    ack = await js.publish(store.names.id_subject(taken), b"")
    with pytest.raises(CorruptRecordError, match=f"sequence {ack.seq}:"):
        await store.append("s", [NewEvent(Noted(n=1), event_id=taken)], expected_version=ANY)
    assert await store.stream_version("s") == 0


async def test_an_append_of_more_than_500_events_raises_and_writes_nothing(
    store: JetStreamEventStore,
) -> None:
    await store.append("s", [Noted(n=0)], expected_version=NO_STREAM)
    before = await store.last_position()
    with pytest.raises(ValueError, match="at most 500 events"):
        await store.append("s", [Noted(n=n) for n in range(501)], expected_version=1)
    with pytest.raises(ValueError, match="at most 500 events"):
        await store.append("new", [Noted(n=n) for n in range(501)], expected_version=NO_STREAM)
    assert await store.last_position() == before
    assert [s.stream_id for s in await store.list_streams()] == ["s"]


async def test_an_append_of_500_events_creating_its_stream_fits_one_batch(
    store: JetStreamEventStore,
) -> None:
    result = await store.append("s", [Noted(n=n) for n in range(500)], expected_version=NO_STREAM)
    assert result.version == 500
    events = await store.read_stream("s")
    assert [e.data["n"] for e in events] == list(range(500))
    assert result.position == events[-1].position


async def test_an_event_id_stays_unique_long_after_the_duplicate_window(
    nats_server: NatsServer,
) -> None:
    async with fresh_jetstream_store(nats_server.url, duplicate_window_s=1.0) as store:
        event = NewEvent(Noted(n=1))
        first = await store.append("a", [event], expected_version=NO_STREAM)
        await asyncio.sleep(1.5)  # the server no longer remembers the message id
        with pytest.raises(DuplicateEventError, match=f"{event.event_id}.*'a'"):
            await store.append("b", [event], expected_version=NO_STREAM)
        again = await store.append("a", [event], expected_version=ANY)
        assert (again.version, again.position, again.deduplicated) == (1, first.position, True)
        assert await store.last_position() == first.position
        assert await store.stream_version("b") == 0


async def test_a_store_opened_from_a_url_takes_its_options(
    nats_server: NatsServer, js: JetStreamContext, tmp_path: Path
) -> None:
    name = fresh_store_name()
    url = f"{nats_server.url}/{name}?duplicate_window_s=5"
    try:
        async with open_store(url, read_models=f"sqlite:///{tmp_path / 'rows.db'}") as pair:
            assert isinstance(pair, SplitStore)
            store = pair.inner
            assert isinstance(store, JetStreamEventStore)
            assert (store.names.name, store.duplicate_window_s) == (name, 5.0)
            await store.append("s", [Noted(n=1)], expected_version=NO_STREAM)
            assert await store.stream_version("s") == 1
        info = await js.stream_info(name)
        assert info.config.duplicate_window == 5.0
    finally:
        await drop_jetstream_store(nats_server.url, name)


async def test_options_the_server_refuses_are_a_configuration_error(
    nats_server: NatsServer,
) -> None:
    name = fresh_store_name()
    try:
        with pytest.raises(ConfigurationError, match=f"{name}.*replicas"):
            async with open_store(f"{nats_server.url}/{name}?replicas=3"):
                pass
    finally:
        await drop_jetstream_store(nats_server.url, name)
