"""A Kafka repository restores 1,000,000 events, with and without the snapshot topic, to the
same state: every event folded once, and the snapshot restore reads only the tail.

It has a broker of its own, stopped afterwards (Tansu keeps topics in memory). How fast
each restore is, is measured by ``benchmarks/kafka_restore.py``, not here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eskit.domain import Event
from eskit.messaging import Topology
from eskit.messaging.kafka_repository import KafkaRepository
from eskit.testing.brokers import KafkaBroker
from eskit.testing.kafka_topics import produce_events
from tests.messaging.members import Joined, Member, Renamed

pytestmark = pytest.mark.integration

EVENTS = 1_000_000
STREAMS = 10_000
SNAPSHOT_AT = 990_000


@pytest.fixture(scope="module")
def broker() -> Iterator[KafkaBroker]:
    with KafkaBroker() as own:
        yield own


def repository(servers: str, prefix: str, *, snapshots: bool) -> KafkaRepository[Member]:
    return KafkaRepository(
        servers,
        Member,
        topology=Topology(prefix=prefix),
        partitions=8,
        snapshots=snapshots,
        idempotent=False,  # Tansu has no idempotent producer
        timeout_s=60.0,
    )


async def fill(servers: str, topic: str, first: int, end: int) -> None:
    """Events ``first`` .. ``end - 1``: event n is version ``n // STREAMS + 1`` of member
    ``n % STREAMS`` (a join, then renames)."""

    def event(n: int) -> Event:
        return Joined(name=f"m{n}") if n < STREAMS else Renamed(name=f"m{n}")

    await produce_events(
        servers,
        topic,
        (
            (f"member-{n % STREAMS}", Member.stream_type, n // STREAMS + 1, n + 1, event(n))
            for n in range(first, end)
        ),
    )


def expected_state() -> dict[str, tuple[int, str, int]]:
    last = EVENTS // STREAMS
    return {f"member-{m}": (last, f"m{(last - 1) * STREAMS + m}", last - 1) for m in range(STREAMS)}


async def restored(servers: str, prefix: str, *, snapshots: bool) -> tuple[dict[str, Any], Any]:
    async with repository(servers, prefix, snapshots=snapshots) as repo:
        state = {}
        for member_id in repo.aggregate_ids():
            member = await repo.load(member_id)
            state[member_id] = (member.version, member.name, member.renames)
        return state, repo.last_restore


async def test_a_million_events_restore_to_the_same_state_with_and_without_snapshots(
    broker: KafkaBroker,
) -> None:
    servers, prefix = broker.bootstrap_servers, f"million{uuid.uuid4().hex[:6]}"
    async with repository(servers, prefix, snapshots=True) as created:
        topic = created.topic
    await fill(servers, topic, 0, SNAPSHOT_AT)
    async with repository(servers, prefix, snapshots=True) as writer:
        assert await writer.snapshot() == STREAMS
    await fill(servers, topic, SNAPSHOT_AT, EVENTS)

    whole, whole_report = await restored(servers, prefix, snapshots=False)
    tail, tail_report = await restored(servers, prefix, snapshots=True)

    assert whole == tail == expected_state()
    assert (whole_report.events_read, whole_report.events_applied) == (EVENTS, EVENTS)
    assert not whole_report.from_snapshot
    assert tail_report.from_snapshot
    assert tail_report.snapshots_read == STREAMS + 1  # and the manifest
    assert tail_report.events_applied == EVENTS - SNAPSHOT_AT
    assert tail_report.events_read < 2 * (EVENTS - SNAPSHOT_AT)
