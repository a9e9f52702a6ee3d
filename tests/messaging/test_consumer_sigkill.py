"""A consumer killed with SIGKILL mid-batch ten times: every event takes effect once, so its
read model holds what a fresh rebuild holds (in the same order on Kafka)."""

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
from eskit.messaging.relay import Relay
from eskit.messaging.urls import open_bus
from eskit.store import SQLiteEventStore
from eskit.testing.brokers import KafkaBroker, NatsServer
from tests.messaging.support import TOTALS, applied, eventually, log_of, write

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10


def start_consumer(database: Path, bus_url: str, prefix: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.messaging.consumer_process",
            str(database),
            bus_url,
            prefix,
            "totals",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("kind", ["kafka", "nats"])
async def test_a_consumer_killed_mid_batch_ten_times_ends_as_a_fresh_rebuild(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    broker: KafkaBroker | NatsServer = request.getfixturevalue(
        "kafka_broker" if kind == "kafka" else "nats_server"
    )
    prefix = f"ckill{uuid.uuid4().hex[:8]}"
    # a restarted member gets its partitions sooner; a dead member's messages come back sooner
    member_url = broker.url + ("?session_timeout=2" if kind == "kafka" else "?ack_wait=5")
    bus = open_bus(broker.url, Topology(prefix=prefix))
    database = tmp_path / "events.db"
    rng = random.Random(11)
    async with SQLiteEventStore.open(database) as store:
        async with store.transaction() as tx:
            await tx.documents.create(TOTALS)
        await asyncio.gather(*(write(store, writer=w, count=200) for w in range(4)))
        log = await log_of(store)
        relay = Relay(store, bus)
        while await relay.step():
            pass

        for _ in range(KILLS):
            consumer = start_consumer(database, member_url, prefix)
            await asyncio.sleep(rng.uniform(1.2, 2.2))  # joins, then dies mid-batch
            consumer.send_signal(signal.SIGKILL)
            consumer.wait()

        survivor = start_consumer(database, member_url, prefix)
        try:

            async def all_applied() -> bool:
                return sum(map(len, (await applied(store)).values())) >= len(log)

            await eventually(all_applied, timeout_s=120)
        finally:
            survivor.terminate()
            survivor.wait(10)

        fresh: dict[str, list[int]] = {}
        for event in log:
            fresh.setdefault(event.stream_id, []).append(event.data["seq"])
        result = await applied(store)
        # every event took effect once, nothing lost, nothing twice, and in each stream's
        # order: on Kafka a partition is read by one member at a time from the first message
        # its dead member had not acknowledged; on JetStream, where a dead member's messages
        # come back after later ones, the survivor waits for them (the stream-order check)
        assert result == fresh
    await bus.close()
