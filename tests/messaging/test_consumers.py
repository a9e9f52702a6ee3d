"""Consumers apply each event once, dead-letter what they cannot handle, and go on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from eskit.messaging import Bus, OutgoingMessage
from eskit.messaging.consumer import (
    DEAD_LETTER_OF,
    ConsumerRunner,
    dead_letter_type,
)
from eskit.messaging.envelope import event_message
from eskit.messaging.relay import Relay
from eskit.store import (
    SQLiteEventStore,
    TransactionalStore,
)
from tests.messaging.support import TOTALS, applied, counting, eventually, log_of, running, write

pytestmark = pytest.mark.integration


async def test_each_event_takes_effect_once_though_the_bus_delivers_it_again(
    db: TransactionalStore, bus: Bus
) -> None:
    await write(db, writer=1, count=30)
    consumer = counting()
    await Relay(db, bus).step()

    first = ConsumerRunner(db, bus, consumer)
    async with bus.consumer(consumer.name, consumer.stream_types) as member:
        batch = await member.fetch(100, 10.0)
        assert batch
        await first._apply(batch)  # committed, then the process dies before it acknowledges

    async with running(ConsumerRunner(db, bus, consumer)) as second:

        async def all_in() -> bool:
            done = sum(map(len, (await applied(db)).values())) == 30
            return done and second.duplicates == len(batch)

        await eventually(all_in)

    assert await applied(db) == {f"w1-s{s}": list(range(s, 30, 3)) for s in range(3)}
    assert second.duplicates == len(batch)


async def test_a_failing_message_is_dead_lettered_and_the_others_flow_then_replayed_once(
    db: TransactionalStore, bus: Bus
) -> None:
    await write(db, writer=1, count=9)
    failing = counting(fail_on={4})
    await Relay(db, bus).step()

    async with running(ConsumerRunner(db, bus, failing)) as runner:

        async def others_in() -> bool:
            return sum(map(len, (await applied(db)).values())) == 8 and runner.dead_lettered == 1

        await eventually(others_in)

    async with bus.consumer("inspect", [dead_letter_type(failing.name)]) as member:
        [dead] = await member.fetch(10, 10.0)
    assert dead.headers["eskit-dead-letter-reason"] == "handler_failed"
    assert "cannot take seq 4" in dead.headers["eskit-dead-letter-error"]
    assert dead.headers["eskit-dead-letter-attempts"] == "3"

    fixed = counting()
    fixed.name = failing.name
    fixed_runner = ConsumerRunner(db, bus, fixed)
    assert await fixed_runner.replay_dead_letters() == 1
    assert sorted((await applied(db))["w1-s1"]) == [1, 4, 7]
    assert await fixed_runner.replay_dead_letters(timeout_s=0.5) == 0


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"{not json", {}, "not_json"),
        (b"[1, 2]", {}, "not_json"),
        (b'{"writer": 1, "seq": 1}', {"eskit-event-type": "test.renamed"}, "unknown_event_type"),
        (b'{"writer": 1, "seq": 1}', {"eskit-schema-version": "9"}, "event_schema_mismatch"),
        (b'{"writer": "x"}', {}, "event_schema_mismatch"),
        (b"{}", {"eskit-version": None}, "missing_header"),
    ],
    ids=["not-json", "not-an-object", "unknown-type", "newer-schema", "bad-data", "no-version"],
)
async def test_bad_input_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    tmp_path: Path, bus: Bus, body: bytes, headers: dict[str, str | None], reason: str
) -> None:
    # the store plays no part in decoding: one is enough
    async with SQLiteEventStore.open(tmp_path / "events.db") as db:
        async with db.transaction() as tx:
            await tx.documents.create(TOTALS)
        await _bad_input_case(db, bus, body, headers, reason)


async def _bad_input_case(
    db: TransactionalStore, bus: Bus, body: bytes, headers: dict[str, str | None], reason: str
) -> None:
    await write(db, writer=1, count=2)
    [good, other] = [event_message(e) for e in await log_of(db)]
    merged = {**good.headers, **headers, "eskit-event-id": str(uuid.uuid4())}
    bad = OutgoingMessage(
        message_id=merged["eskit-event-id"] or "",
        stream_type="counter",
        key="w1-s0",
        body=body,
        headers={k: v for k, v in merged.items() if v is not None},
    )
    consumer = counting()
    # a handler for the renamed type, but no event class in the registry
    consumer.handlers["test.renamed"] = consumer.handlers["test.counted"]
    await bus.publish([good, bad, other])

    async with running(ConsumerRunner(db, bus, consumer)) as runner:

        async def done() -> bool:
            return sum(map(len, (await applied(db)).values())) == 2 and runner.dead_lettered == 1

        await eventually(done)

    async with bus.consumer("inspect", [dead_letter_type(consumer.name)]) as member:
        [dead] = await member.fetch(10, 10.0)
    assert dead.headers["eskit-dead-letter-reason"] == reason
    assert dead.headers[DEAD_LETTER_OF] == bad.message_id
    assert dead.headers["eskit-dead-letter-attempts"] == "1"
