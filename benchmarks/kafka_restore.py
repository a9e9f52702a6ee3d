"""How fast a Kafka repository restores, against a raw consumer reading the same topic.

    python benchmarks/kafka_restore.py                 # 1,000,000 events, 3 samples
    python benchmarks/kafka_restore.py --quick         # 100,000 events
    python benchmarks/kafka_restore.py --events 250000 --samples 5

It starts the Tansu broker (Kafka protocol, in memory) on this machine, fills a topic of
8 partitions with ``--events`` account events (one stream per 100 events, the repository's
own envelope, written by a batched producer), and measures, contenders taking turns within
each round:

* **raw consumer**: aiokafka reading every record of the topic and nothing else (the limit);
* **repository, whole topic**: ``KafkaRepository`` restoring with snapshots off: every record's
  envelope checked, its event decoded and folded into its account;
* **repository, from snapshots**: the same after one snapshot run taken at 99 % of the
  events: it reads the snapshot topic and the last 1 % of the events.

The table gives each median, the rate in events per second of the topic, and the ratio to
the raw consumer (the repository's target is 70 % of it) and to the whole-topic restore.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from eskit.domain import Aggregate, Event, applies
from eskit.messaging import Topology
from eskit.messaging.kafka_repository import KafkaRepository
from eskit.testing.brokers import KafkaBroker
from eskit.testing.kafka_topics import produce_events

PARTITIONS = 8
EVENTS_PER_STREAM = 100


class Deposited(Event):
    amount: int


class Account(Aggregate):
    balance: int = 0
    deposits: int = 0

    @applies(Deposited)
    def _deposited(self, event: Deposited) -> None:
        self.balance += event.amount
        self.deposits += 1


def repository(servers: str, prefix: str, *, snapshots: bool) -> KafkaRepository[Account]:
    return KafkaRepository(
        servers,
        Account,
        topology=Topology(prefix=prefix),
        partitions=PARTITIONS,
        snapshots=snapshots,
        idempotent=False,  # Tansu has no idempotent producer
        timeout_s=30.0,
    )


async def fill(servers: str, topic: str, first: int, count: int, total: int) -> None:
    """Write events ``first`` .. ``first + count - 1`` of ``total``: event n is version
    ``n // streams + 1`` of stream ``n % streams``, so every stream grows evenly."""
    streams = max(1, total // EVENTS_PER_STREAM)
    await produce_events(
        servers,
        topic,
        (
            (
                f"account-{n % streams}",
                Account.stream_type,
                n // streams + 1,
                n + 1,
                Deposited(amount=n % 97 + 1),
            )
            for n in range(first, first + count)
        ),
    )


async def raw_read(servers: str, topic: str, expected: int) -> float:
    """Seconds a bare consumer takes to read ``expected`` records of ``topic``."""
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=servers,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        read = 0
        while read < expected:
            batches = await consumer.getmany(timeout_ms=10_000)
            if not batches:
                raise RuntimeError(f"the raw consumer stalled at {read} of {expected}")
            read += sum(len(records) for records in batches.values())
    finally:
        await consumer.stop()
    return time.perf_counter() - started


async def restore(servers: str, prefix: str, *, snapshots: bool, expected: int) -> float:
    """Seconds a repository takes from open to restored (lease and topics included)."""
    started = time.perf_counter()
    async with repository(servers, prefix, snapshots=snapshots) as restored:
        elapsed = time.perf_counter() - started
        report = restored.last_restore
        assert report is not None
        held = 0
        for account_id in restored.aggregate_ids():
            held += (await restored.load(account_id)).deposits
        if held != expected:
            raise AssertionError(f"restored {held} deposits, expected {expected}")
        if snapshots and not report.from_snapshot:
            raise AssertionError(f"the snapshots were not used: {report.snapshot_unused}")
    return elapsed


async def measure(servers: str, events: int, samples: int, console: Console) -> list[list[str]]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    async with repository(servers, prefix, snapshots=True) as created:
        topic = created.topic  # the topics exist, with the partitions the repository wants
    before = int(events * 0.99)
    started = time.perf_counter()
    await fill(servers, topic, 0, before, events)
    console.print(f"filled {before:,} events in {time.perf_counter() - started:.1f} s")
    async with repository(servers, prefix, snapshots=True) as writer:
        started = time.perf_counter()
        written = await writer.snapshot()
        console.print(
            f"snapshot run: {written:,} accounts in {time.perf_counter() - started:.1f} s"
        )
    await fill(servers, topic, before, events - before, events)

    contenders: dict[str, Callable[[], Awaitable[float]]] = {
        "raw consumer (aiokafka)": lambda: raw_read(servers, topic, events),
        "repository, whole topic": lambda: restore(
            servers, prefix, snapshots=False, expected=events
        ),
        "repository, from snapshots": lambda: restore(
            servers, prefix, snapshots=True, expected=events
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for sample in range(samples):
        for name, run in contenders.items():
            results[name].append(await run())
        console.print(f"round {sample + 1} of {samples} done")
    median = {name: statistics.median(values) for name, values in results.items()}
    raw, whole = median["raw consumer (aiokafka)"], median["repository, whole topic"]
    rows = []
    for name, values in results.items():
        rows.append(
            [
                name,
                f"{median[name]:.2f} s",
                f"{min(values):.2f}-{max(values):.2f} s",
                f"{events / median[name]:,.0f}",
                f"{raw / median[name]:.0%}",
                f"{whole / median[name]:.1f}x",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    events = 100_000 if args.quick else args.events
    console = Console(width=140)
    with KafkaBroker() as kafka:
        rows = asyncio.run(measure(kafka.bootstrap_servers, events, args.samples, console))
    table = Table(
        title=f"Kafka repository restore, {events:,} events in {events // EVENTS_PER_STREAM:,} "
        f"streams, {PARTITIONS} partitions, Tansu; median of {args.samples} samples"
    )
    for column in ("contender", "median", "min-max", "events/s", "vs raw", "vs whole topic"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
