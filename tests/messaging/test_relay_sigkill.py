"""The relay killed with SIGKILL ten times under load loses nothing; the copies it sends
again are what consumers absorb (on JetStream the server drops them: counted here)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from eskit.messaging import Topology
from eskit.messaging.kafka_bus import KafkaBus
from eskit.messaging.nats_bus import JetStreamBus
from eskit.messaging.relay import Relay
from eskit.store import SQLiteEventStore
from eskit.testing.brokers import KafkaBroker, NatsServer
from tests.messaging.support import drain, eventually, log_of, versions_by_stream, write

pytestmark = pytest.mark.e2e

ESKIT = str(Path(sys.executable).with_name("eskit"))
KILLS = 10


def start_relay(database: Path, bus_url: str, prefix: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ESKIT_DATABASE_URL": f"sqlite:///{database}",
        "ESKIT_BUS_URL": bus_url,
        "ESKIT_BUS_PREFIX": prefix,
        # a killed relay's lease expires by the time the next one has started
        "ESKIT_LEASE_TTL_S": "1",
        "ESKIT_LEASE_RETRY_S": "0.1",
    }
    return subprocess.Popen(
        [ESKIT, "relay"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.mark.parametrize("kind", ["kafka", "nats"])
async def test_a_relay_killed_ten_times_under_load_loses_nothing(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    broker: KafkaBroker | NatsServer = request.getfixturevalue(
        "kafka_broker" if kind == "kafka" else "nats_server"
    )
    prefix = f"kill{uuid.uuid4().hex[:8]}"
    topology = Topology(prefix=prefix)
    bus = (
        KafkaBus(broker.bootstrap_servers, topology, session_timeout_s=2.0)
        if isinstance(broker, KafkaBroker)
        else JetStreamBus(broker.url, topology)
    )
    database = tmp_path / "events.db"
    rng = random.Random(7)
    async with SQLiteEventStore.open(database) as store:
        # the load lasts as long as the kills: each relay dies while events keep coming
        writers = asyncio.gather(
            *(write(store, writer=w, count=150, pause_s=0.06) for w in range(4))
        )
        for _ in range(KILLS):
            relay = start_relay(database, broker.url, prefix)
            await asyncio.sleep(rng.uniform(0.7, 1.5))  # started, then killed while publishing
            relay.send_signal(signal.SIGKILL)
            relay.wait()
        await writers

        survivor = start_relay(database, broker.url, prefix)
        try:
            log = await log_of(store)
            checkpoint = Relay(store, bus)

            async def caught_up() -> bool:
                return await checkpoint.load() >= log[-1].position

            await eventually(caught_up, timeout_s=60)
        finally:
            survivor.terminate()
            survivor.wait(10)

    received = await drain(bus, "after-kills", len(log), timeout_s=60)
    await bus.close()

    expected = {
        stream: [e.version for e in log if e.stream_id == stream]
        for stream in {e.stream_id for e in log}
    }
    assert versions_by_stream(received) == expected
    copies = len(received) - len(log)
    print(f"{kind}: {len(log)} events, {copies} copies delivered after {KILLS} kills")
    if kind == "nats":
        assert copies == 0  # the server dropped every batch sent again
