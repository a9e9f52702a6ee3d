"""A one-event append sends its id's claim and the event together: what happens when another
record comes between them, and when an earlier attempt left the claim behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from eskit.domain import Event
from eskit.store import NO_STREAM, NewEvent
from eskit.store.jetstream import JetStreamEventStore
from eskit.store.jetstream.publishing import CLAIMED_BY
from eskit.store.jetstream.replies import Replies, Request
from eskit.store.jetstream.subjects import token
from eskit.testing.brokers import NatsServer
from eskit.testing.jetstream import fresh_jetstream_store

pytestmark = pytest.mark.integration


class Noted(Event):
    n: int


@pytest.fixture
async def store(nats_server: NatsServer) -> AsyncIterator[JetStreamEventStore]:
    async with fresh_jetstream_store(nats_server.url) as fresh:
        yield fresh


class Interleaved(Replies):
    """Sends the claim, then another writer's record, then the event: what a writer in
    another process can do between the two."""

    def __init__(self, store: JetStreamEventStore, js: JetStreamContext) -> None:
        super().__init__(store._client)
        self.store, self.js = store, js

    async def send(self, requests: Sequence[Request], *, timeout_s: float) -> list[Msg]:
        claim, event = requests
        first = await super().send([claim], timeout_s=timeout_s)
        await self.js.publish(self.store.names.id_subject(uuid.uuid4()), b"")
        return first + await super().send([event], timeout_s=timeout_s)


async def test_a_record_between_the_claim_and_its_event_makes_the_event_go_again_alone(
    store: JetStreamEventStore, js: JetStreamContext
) -> None:
    await store.append("s", [Noted(n=1)], expected_version=NO_STREAM)
    store._replies = Interleaved(store, js)

    result = await store.append("s", [Noted(n=2)], expected_version=1)

    events = await store.read_stream("s")
    assert [(e.version, e.data["n"]) for e in events] == [(1, 1), (2, 2)]
    assert (result.version, result.position, result.deduplicated) == (2, events[1].position, False)
    assert await store.find_events([events[1].event_id]) == [events[1]]


async def _leave_a_claim(
    js: JetStreamContext, store: JetStreamEventStore, event_id: uuid.UUID
) -> None:
    """What an attempt cut off after its claim leaves: the claim, and no event."""
    await js.publish(
        store.names.id_subject(event_id),
        b"",
        headers={CLAIMED_BY: token("s"), "Nats-Msg-Id": f"c:{event_id}"},
    )


@pytest.mark.parametrize("since", ["nothing", "another record"])
async def test_a_retry_takes_over_the_claim_an_earlier_attempt_left(
    store: JetStreamEventStore, js: JetStreamContext, since: str
) -> None:
    event_id = uuid.uuid4()
    await _leave_a_claim(js, store, event_id)
    if since == "another record":
        await store.append("other", [Noted(n=0)], expected_version=NO_STREAM)

    result = await store.append(
        "s", [NewEvent(Noted(n=1), event_id=event_id)], expected_version=NO_STREAM
    )

    [event] = await store.read_stream("s")
    assert (event.event_id, result.version, result.deduplicated) == (event_id, 1, False)
    assert await store.find_events([event_id]) == [event]
    again = await store.append(
        "s", [NewEvent(Noted(n=1), event_id=event_id)], expected_version=NO_STREAM
    )
    assert (again.version, again.position, again.deduplicated) == (1, event.position, True)
