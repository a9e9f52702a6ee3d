"""The JetStream store when its server dies, freezes or is not there: typed errors within
the store's timeouts, safe retries, and nothing acknowledged lost or stored twice."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eskit.domain import Event
from eskit.errors import StoreUnavailableError
from eskit.store import NO_STREAM, NewEvent, open_store
from eskit.store.jetstream import JetStreamEventStore
from eskit.testing.brokers import NatsServer, free_port

pytestmark = pytest.mark.integration

WRITERS = 4
TIMEOUT_S = 0.5
SLACK_S = 1.0
"""Scheduling on a busy test machine, on top of a timeout."""


class Noted(Event):
    writer: str
    n: int


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of this test's own, its streams in a folder that outlives a restart."""
    with NatsServer(store_dir=tmp_path / "nats") as server:
        yield server


class Load:
    """Writers that append two events at a time, each to a stream of its own, at
    expected versions, retrying StoreUnavailableError with the same event ids, until
    told to stop."""

    def __init__(self, store: JetStreamEventStore) -> None:
        self.store = store
        self.acked: dict[str, list[NewEvent]] = {f"w{n}": [] for n in range(WRITERS)}
        self.unavailable = 0
        self.stop = asyncio.Event()
        self._moved = asyncio.Event()

    async def write(self, writer: str) -> None:
        acked = self.acked[writer]
        while not self.stop.is_set():
            n = len(acked)
            events = [NewEvent(Noted(writer=writer, n=n + k)) for k in range(2)]
            while True:
                try:
                    result = await self.store.append(
                        writer, events, expected_version=n or NO_STREAM
                    )
                except StoreUnavailableError:
                    self.unavailable += 1
                    await asyncio.sleep(0.05)
                    continue
                assert result.version == n + 2
                acked.extend(events)
                self._moved.set()
                break

    async def until_acked(self, count: int, timeout_s: float = 20.0) -> None:
        """Wait until ``count`` more events are acknowledged."""
        target = self.total() + count
        async with asyncio.timeout(timeout_s):
            while self.total() < target:
                self._moved.clear()
                await self._moved.wait()

    def total(self) -> int:
        return sum(len(events) for events in self.acked.values())


async def test_acknowledged_appends_survive_a_killed_server_and_the_store_reconnects(
    own_server: NatsServer,
) -> None:
    async with JetStreamEventStore.open(
        own_server.url, name="outage", timeout_s=TIMEOUT_S
    ) as store:
        load = Load(store)
        writers = [asyncio.create_task(load.write(w)) for w in load.acked]
        try:
            await load.until_acked(40)
            own_server.kill()
            await asyncio.sleep(0.3)  # appends meanwhile fail, and are retried
            own_server.start()
            await load.until_acked(40)  # the same store object, reconnected by itself
        finally:
            load.stop.set()
            await asyncio.gather(*writers)
        log = await store.read_batch(limit=10_000)
    assert load.unavailable > 0, "no append noticed the outage"
    ids = [e.event_id for e in log]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert set(ids) == {e.event_id for events in load.acked.values() for e in events}
    for writer, events in load.acked.items():
        stored = [e for e in log if e.stream_id == writer]
        assert [e.version for e in stored] == list(range(1, len(events) + 1))
        assert [e.event_id for e in stored] == [e.event_id for e in events]


async def test_an_append_to_a_paused_server_fails_within_the_timeout_and_retries_safely(
    own_server: NatsServer,
) -> None:
    async with JetStreamEventStore.open(
        own_server.url, name="paused", timeout_s=TIMEOUT_S
    ) as store:
        await store.append("s", [Noted(writer="a", n=0)], expected_version=NO_STREAM)
        second = [NewEvent(Noted(writer="a", n=1))]
        own_server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match="may or may not be stored"):
                await store.append("s", second, expected_version=1)
            assert time.monotonic() - started < TIMEOUT_S + SLACK_S
        finally:
            own_server.resume()
        # the refused append may have reached the server (whole, or only its id's claim),
        # which goes on with it once resumed: the retry stores it once either way
        retried = await store.append("s", second, expected_version=1)
        assert retried.version == 2
        stored = await store.read_stream("s")
    assert [e.data["n"] for e in stored] == [0, 1]


async def test_reads_from_a_paused_server_fail_within_the_timeout(
    own_server: NatsServer,
) -> None:
    async with JetStreamEventStore.open(
        own_server.url, name="paused", timeout_s=TIMEOUT_S
    ) as store:
        await store.append("s", [Noted(writer="a", n=0)], expected_version=NO_STREAM)
        own_server.pause()
        try:
            for read in (
                store.read_stream("s"),
                store.read_batch(),
                store.stream_version("s"),
                store.last_position(),
            ):
                started = time.monotonic()
                with pytest.raises(StoreUnavailableError):
                    await read
                assert time.monotonic() - started < TIMEOUT_S + SLACK_S
        finally:
            own_server.resume()
        assert await store.stream_version("s") == 1


async def test_opening_a_store_where_no_server_listens_fails_within_the_connect_timeout() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        async with open_store(f"nats://127.0.0.1:{port}/absent?connect_timeout_s=1"):
            pass
    assert time.monotonic() - started < 1 + SLACK_S


async def test_opening_a_store_on_a_paused_server_fails_within_the_connect_timeout(
    own_server: NatsServer,
) -> None:
    own_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=r"within 1\.0 s"):
            async with JetStreamEventStore.open(own_server.url, connect_timeout_s=1.0):
                pass
        assert time.monotonic() - started < 1 + SLACK_S
    finally:
        own_server.resume()
