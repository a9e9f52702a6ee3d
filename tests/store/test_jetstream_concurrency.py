"""Many writers on the JetStream store, in one process and in several, while readers
follow the global log from their checkpoints: nothing lost, nothing twice, order kept."""

import asyncio
import json
import sys
from collections import defaultdict
from collections.abc import Awaitable, Sequence
from pathlib import Path

import pytest

from eskit.store import StoredEvent
from eskit.store.jetstream import JetStreamEventStore
from eskit.testing.brokers import NatsServer
from eskit.testing.jetstream import fresh_jetstream_store
from tests.store.jetstream_writer import Acked, run_writers

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("jetstream_writer.py")
READERS = 3
STREAMS = {"one": ["shared"], "many": [f"s{n}" for n in range(24)]}
APPENDS = {"one": 2, "many": 4}


async def follow(server_url: str, name: str, writers_done: asyncio.Event) -> list[StoredEvent]:
    """Read the global log after a checkpoint, as a subscription does, until the writers
    are done and the checkpoint is at the head; every event read."""
    seen: list[StoredEvent] = []
    checkpoint = 0
    async with JetStreamEventStore.open(server_url, name=name, migrate=False) as store:
        while True:
            events = await store.read_batch(after=checkpoint, limit=23)
            if events:
                positions = [e.position for e in events]
                assert positions[0] > checkpoint, "a read went back before its checkpoint"
                assert positions == sorted(set(positions)), "a batch out of order"
                seen.extend(events)
                checkpoint = positions[-1]
            elif writers_done.is_set() and checkpoint >= await store.last_position():
                return seen
            else:
                await asyncio.sleep(0.01)


async def follow_while(
    server_url: str, name: str, writers: Awaitable[list[Acked]]
) -> tuple[list[Acked], list[list[StoredEvent]]]:
    """Run ``writers`` while ``READERS`` readers follow the log; the acks and each
    reader's events."""
    done = asyncio.Event()
    readers = [asyncio.create_task(follow(server_url, name, done)) for _ in range(READERS)]
    try:
        acked = await writers
    finally:
        done.set()
    return acked, list(await asyncio.gather(*readers))


def assert_log_holds_exactly(events: Sequence[StoredEvent], acked: Sequence[Acked]) -> None:
    """Every acknowledged event once, in an order that keeps each stream's versions and
    each writer's own sequence, and each ack pointing at its last event."""
    positions = [e.position for e in events]
    assert positions == sorted(set(positions)), "positions do not strictly increase"
    ids = [str(e.event_id) for e in events]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    expected = {i for ack in acked for i in ack.event_ids}
    assert set(ids) == expected, (
        f"lost {len(expected - set(ids))} acknowledged events, "
        f"found {len(set(ids) - expected)} never acknowledged"
    )
    versions: dict[str, list[int]] = defaultdict(list)
    numbers: dict[str, list[int]] = defaultdict(list)
    for event in events:
        versions[event.stream_id].append(event.version)
        numbers[event.data["writer"]].append(event.data["n"])
    for stream_id, found in versions.items():
        assert found == list(range(1, len(found) + 1)), f"{stream_id}: versions {found}"
    for writer, found in numbers.items():
        assert found == list(range(len(found))), f"{writer}: its events out of order"
    by_id = {str(e.event_id): e for e in events}
    for ack in acked:
        last = by_id[ack.event_ids[-1]]
        assert (last.stream_id, last.version, last.position) == (
            ack.stream_id,
            ack.version,
            ack.position,
        )


def assert_readers_saw_the_log(log: list[StoredEvent], seen: list[list[StoredEvent]]) -> None:
    for events in seen:
        assert [e.position for e in events] == [e.position for e in log]
        assert [e.event_id for e in events] == [e.event_id for e in log]


async def writer_processes(
    server_url: str, name: str, processes: int, writers: int, appends: int, streams: list[str]
) -> list[Acked]:
    """``processes`` writer processes of ``writers`` writers each; every ack they print."""
    started = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WRITER),
            server_url,
            name,
            f"p{n}",
            str(writers),
            str(appends),
            *streams,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(processes)
    ]
    acked: list[Acked] = []
    for process in started:
        out, err = await process.communicate()
        assert process.returncode == 0, err.decode()[-2000:]
        acked.extend(Acked(**json.loads(line)) for line in out.decode().splitlines())
    return acked


@pytest.mark.parametrize("streams", ["one", "many"])
async def test_sixteen_writers_in_one_process_lose_and_repeat_nothing(
    nats_server: NatsServer, streams: str
) -> None:
    async with fresh_jetstream_store(nats_server.url) as store:
        name = store.names.name
        writers = run_writers(nats_server.url, name, "", 16, APPENDS[streams], STREAMS[streams])
        acked, seen = await follow_while(nats_server.url, name, writers)
        log = await store.read_batch(limit=10_000)
    assert len(acked) == 16 * APPENDS[streams]
    if streams == "one":
        assert sum(a.conflicts for a in acked) > 0, "the writers never raced"
    assert_log_holds_exactly(log, acked)
    assert_readers_saw_the_log(log, seen)


@pytest.mark.parametrize("streams", ["one", "many"])
async def test_writers_in_four_processes_lose_and_repeat_nothing(
    nats_server: NatsServer, streams: str
) -> None:
    async with fresh_jetstream_store(nats_server.url) as store:
        name = store.names.name
        writers = writer_processes(nats_server.url, name, 4, 4, APPENDS[streams], STREAMS[streams])
        acked, seen = await follow_while(nats_server.url, name, writers)
        log = await store.read_batch(limit=10_000)
    assert len(acked) == 16 * APPENDS[streams]
    if streams == "one":
        assert sum(a.conflicts for a in acked) > 0, "the writers never raced"
    assert_log_holds_exactly(log, acked)
    assert_readers_saw_the_log(log, seen)
