"""The Kafka repository on a real broker (Tansu): a restart restores exactly the state it
left, with and without snapshots; snapshots shorten the restore; version checks and
retried commands work as on the event store; a record it cannot place stops the restore
with an error naming its partition and offset."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eskit.errors import ConcurrencyError, NotFoundError
from eskit.messaging.kafka_repository import KafkaRecordError
from eskit.testing.brokers import KafkaBroker
from tests.messaging.kafka_support import fresh_prefix, members, states
from tests.messaging.members import Join, Joined, Leave, MemberGoneError, Rename, member_handler

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Step:
    """A command on member ``member`` (an index), a retry of an earlier one, a snapshot run
    or a restart."""

    kind: str
    member: int = 0
    name: int = 0


steps = st.one_of(
    st.builds(
        Step,
        kind=st.sampled_from(["join", "rename", "rename", "leave", "retry"]),
        member=st.integers(0, 4),
        name=st.integers(0, 3),
    ),
    st.just(Step("snapshot")),
    st.just(Step("restart")),
)


async def _scenario(servers: str, plan: list[Step], snapshots: bool) -> None:
    prefix = fresh_prefix()
    sent: list[Join | Rename | Leave] = []
    recorded: list[Join | Rename | Leave] = []  # the commands that appended events
    repository = await members(servers, prefix, snapshots=snapshots).open()
    try:
        for step in plan:
            if step.kind == "restart":
                before = await states(repository)
                await repository.close()
                repository = await members(servers, prefix, snapshots=snapshots).open()
                assert await states(repository) == before
                continue
            if step.kind == "snapshot":
                if snapshots:
                    await repository.snapshot()
                continue
            handler = member_handler(repository)
            command = _command(step, sent)
            sent.append(command)
            versions = {m: s["version"] for m, s in (await states(repository)).items()}
            with contextlib.suppress(MemberGoneError, NotFoundError, ConcurrencyError):
                result = await handler.handle(command)
                if result.version > versions.get(result.aggregate_id, 0):
                    recorded.append(command)
        before = await states(repository)
    finally:
        await repository.close()
    async with members(servers, prefix, snapshots=snapshots) as restored:
        assert await states(restored) == before
        handler = member_handler(restored)
        for command in recorded[-3:]:  # retried after the restart: answered, not applied
            assert (await handler.handle(command, replay=True)).deduplicated
        assert await states(restored) == before


def _command(step: Step, sent: list[Join | Rename | Leave]) -> Join | Rename | Leave:
    member_id = f"m{step.member}"
    if step.kind == "retry" and sent:
        return sent[step.member % len(sent)]
    if step.kind == "join":
        return Join(aggregate_id=member_id, name=f"name{step.name}")
    if step.kind == "leave":
        return Leave(aggregate_id=member_id)
    return Rename(aggregate_id=member_id, name=f"name{step.name}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(steps, max_size=30), snapshots=st.booleans())
def test_a_restart_restores_exactly_the_state_before(
    kafka_broker: KafkaBroker, plan: list[Step], snapshots: bool
) -> None:
    """For any commands (retries, refusals, snapshot runs and restarts among them), a
    repository opened afresh holds exactly what the one before held."""
    asyncio.run(_scenario(kafka_broker.bootstrap_servers, plan, snapshots))


async def test_a_restore_from_the_snapshot_topic_reads_only_the_events_after_it(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    async with members(kafka_broker.bootstrap_servers, prefix) as repository:
        handler = member_handler(repository)
        for n in range(20):
            await handler.handle(Join(aggregate_id=f"m{n}", name="first"))
            for rename in range(4):
                await handler.handle(Rename(aggregate_id=f"m{n}", name=f"name{rename}"))
        assert await repository.snapshot() == 20
        for n in range(3):
            await handler.handle(Leave(aggregate_id=f"m{n}"))
        before = await states(repository)

    async with members(kafka_broker.bootstrap_servers, prefix) as from_snapshot:
        report = from_snapshot.last_restore
        assert report is not None
        assert report.from_snapshot
        assert report.events_read == 3
        assert report.snapshots_read == 21  # 20 members and the manifest
        assert await states(from_snapshot) == before

    async with members(kafka_broker.bootstrap_servers, prefix, snapshots=False) as whole:
        report = whole.last_restore
        assert report is not None
        assert not report.from_snapshot
        assert report.events_read == 103
        assert await states(whole) == before


async def test_snapshots_are_written_after_snapshot_every_events(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    async with members(kafka_broker.bootstrap_servers, prefix, snapshot_every=10) as repository:
        handler = member_handler(repository)
        for n in range(12):
            await handler.handle(Join(aggregate_id=f"m{n}", name="x"))
        await asyncio.sleep(0.5)  # the run goes on in the background
    async with members(kafka_broker.bootstrap_servers, prefix) as restored:
        report = restored.last_restore
        assert report is not None
        assert report.from_snapshot
        assert report.events_read < 12
        assert len(restored.aggregate_ids()) == 12


async def test_a_save_at_a_stale_version_raises_concurrency_error(
    kafka_broker: KafkaBroker,
) -> None:
    async with members(kafka_broker.bootstrap_servers, fresh_prefix()) as repository:
        handler = member_handler(repository)
        await handler.handle(Join(aggregate_id="m1", name="ann"))
        first = await repository.load("m1")
        second = await repository.load("m1")
        first.rename("bob")
        await repository.save(first)
        second.rename("cid")
        with pytest.raises(ConcurrencyError):
            await repository.save(second)
        with pytest.raises(ConcurrencyError):
            await handler.handle(Join(aggregate_id="m1", name="again"))
        assert (await repository.load("m1")).name == "bob"


async def test_a_retried_command_is_answered_after_a_restart_not_applied_again(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    join = Join(aggregate_id="m1", name="ann")
    rename = Rename(aggregate_id="m1", name="bob")
    async with members(kafka_broker.bootstrap_servers, prefix) as repository:
        handler = member_handler(repository)
        await handler.handle(join)
        first = await handler.handle(rename)
        await handler.handle(Rename(aggregate_id="m1", name="cid"))
    async with members(kafka_broker.bootstrap_servers, prefix) as restored:
        handler = member_handler(restored)
        again = await handler.handle(rename, replay=True)
        assert again.deduplicated
        assert again.version == first.version
        assert (await handler.handle(join)).deduplicated
        member = await restored.load("m1")
        assert (member.name, member.version) == ("cid", 3)


async def _produce(servers: str, topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """Write one record straight to ``topic``'s partition 0; its offset."""
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    await producer.start()
    try:
        written = await producer.send_and_wait(
            topic, value, key=b"m1", partition=0, headers=headers
        )
    finally:
        await producer.stop()
    return int(written.offset)


def _headers(**overrides: str) -> list[tuple[str, bytes]]:
    headers = {
        "eskit-event-id": str(uuid.uuid4()),
        "eskit-event-type": Joined.event_type,
        "eskit-schema-version": "1",
        "eskit-stream-id": "m1",
        "eskit-stream-type": "Member",
        "eskit-version": "1",
        "eskit-position": "1",
        "eskit-recorded-at": "2025-01-01T00:00:00+00:00",
    }
    headers.update(overrides)
    return [(name, value.encode()) for name, value in headers.items() if value]


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{not json", _headers(), "undecodable"),
        (b'{"name": "ann"}', _headers(**{"eskit-version": ""}), "missing_header"),
        (b'{"name": "ann"}', _headers(**{"eskit-event-type": "Exploded"}), "undecodable"),
        (b'{"name": "ann"}', _headers(**{"eskit-stream-type": "Order"}), "foreign_stream_type"),
        (b'{"name": "ann"}', _headers(**{"eskit-version": "2"}), "version_gap"),
        (b"plain text from another producer", [], "missing_header"),
    ],
)
async def test_a_record_that_is_not_an_event_of_the_topic_stops_the_restore(
    kafka_broker: KafkaBroker, value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    prefix = fresh_prefix()
    async with members(kafka_broker.bootstrap_servers, prefix) as repository:
        topic = repository.topic
    offset = await _produce(kafka_broker.bootstrap_servers, topic, value, headers)
    with pytest.raises(KafkaRecordError) as raised:
        await members(kafka_broker.bootstrap_servers, prefix).open()
    assert (raised.value.topic, raised.value.partition, raised.value.offset) == (topic, 0, offset)
    assert raised.value.reason == reason
    assert f"partition 0 offset {offset}" in raised.value.message


async def test_a_second_event_claiming_a_version_stops_the_restore(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    async with members(kafka_broker.bootstrap_servers, prefix) as repository:
        topic = repository.topic
    await _produce(kafka_broker.bootstrap_servers, topic, b'{"name": "ann"}', _headers())
    offset = await _produce(kafka_broker.bootstrap_servers, topic, b'{"name": "bob"}', _headers())
    with pytest.raises(KafkaRecordError, match="version_conflict") as raised:
        await members(kafka_broker.bootstrap_servers, prefix).open()
    assert raised.value.offset == offset
