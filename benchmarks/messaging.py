"""Benchmarks of messaging: the relay, consumers, and append-to-handled latency, on real brokers.

    python benchmarks/messaging.py            # 3 samples per cell, 20,000 events
    python benchmarks/messaging.py --quick    # 3 samples, 5,000 events, shorter latency run

Each run starts an embedded PostgreSQL (the store, fsync on), the Tansu broker (Kafka
protocol, in memory) and nats-server with JetStream (on disk), all on this machine, and
measures side by side, contenders taking turns within each round:

* **relay**: publishing a backlog of bank-account events from the store to the broker, in
  batches of 500 acknowledged by the broker. ``eskit relay`` (read a page, publish, move the
  checkpoint), the **raw producer** of the client library publishing the same messages with the
  same batching and nothing else (the broker's limit: no store read, no checkpoint), a
  **hand-written relay** on psycopg and the client library (read a page, publish, update a
  checkpoint row: what any relay must do, nothing more), and a **polling relay** like the
  seed's, which reads a batch every 100 ms;
* **consumer**: the same backlog read from the broker into a PostgreSQL read model (a
  document per account counting its events), exactly once. ``eskit consumer`` (inbox + the
  document, one transaction per batch), and the **raw consumer** of the client library writing
  the same rows with psycopg in one transaction per batch (inbox insert and an upsert per event);
* **latency**: appends at a steady 500/s; from ``append`` returning (committed) to the
  consumer having committed the event, p50 and p99 over every append, with eskit's relay
  (woken by commits) and with the polling relay.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nats
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import OffsetAndMetadata
from nats.js.api import AckPolicy, ConsumerConfig
from rich.console import Console
from rich.table import Table

sys.path[:0] = [str(Path(__file__).parent)]  # harness, workloads

from contenders.raw_relay import raw_relay_kafka, raw_relay_nats, send_kafka_batches  # noqa: E402
from eskit.domain.events import Event  # noqa: E402
from eskit.domain.registry import EventRegistry  # noqa: E402
from eskit.messaging import Bus, OutgoingMessage, Topology  # noqa: E402
from eskit.messaging.consumer import Consumer, ConsumerRunner, MessageContext  # noqa: E402
from eskit.messaging.envelope import IncomingEvent, event_message  # noqa: E402
from eskit.messaging.kafka_bus import KafkaBus  # noqa: E402
from eskit.messaging.nats_bus import JetStreamBus  # noqa: E402
from eskit.messaging.relay import Relay  # noqa: E402
from eskit.projections import DocumentCollection  # noqa: E402
from eskit.projections.schema import ensure_tables  # noqa: E402
from eskit.store import ANY, StoredEvent, TransactionalStore  # noqa: E402
from eskit.store.postgres import PostgresEventStore  # noqa: E402
from eskit.store.unit_of_work import UnitOfWork  # noqa: E402
from eskit.testing.brokers import KafkaBroker, NatsServer  # noqa: E402
from harness import postgres_server  # noqa: E402

BATCH = 500
ACCOUNTS = 200
POLL_S = 0.1
COUNTS = DocumentCollection("bench_counts")


class Deposited(Event):
    """The benchmark's event: an account's deposit."""

    event_type = "bench.Deposited"
    amount: int
    payment_id: str


# -- brokers ---------------------------------------------------------------------------------


class Brokers:
    def __init__(self, kafka: KafkaBroker, nats_server: NatsServer) -> None:
        self.kafka = kafka
        self.nats = nats_server

    def bus(self, kind: str, prefix: str) -> Bus:
        topology = Topology(prefix=prefix)
        if kind == "kafka":
            return KafkaBus(self.kafka.bootstrap_servers, topology, session_timeout_s=2.0)
        return JetStreamBus(self.nats.url, topology)


# -- the store's backlog ---------------------------------------------------------------------


async def fill(store: TransactionalStore, count: int) -> None:
    """``count`` deposits over the accounts, 100 per append (the backlog, untimed)."""
    for start in range(0, count, 100):
        account = f"acc-{(start // 100) % ACCOUNTS}"
        events = [Deposited(amount=1, payment_id=f"p{start + i}") for i in range(100)]
        await store.append(account, events, expected_version=ANY, stream_type="Account")


async def log_of(store: TransactionalStore) -> list[StoredEvent]:
    return [e async for e in store.read_all(batch_size=5000)]


async def _until(check: Callable[[], bool], timeout_s: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while True:
        if check() or time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.001)


# -- relay contenders ------------------------------------------------------------------------


async def eskit_relay(store: TransactionalStore, bus: Bus, count: int) -> float:
    """The relay as it runs: pages read and built while the broker acknowledges the last."""
    relay = Relay(store, bus, name=f"r{uuid.uuid4().hex[:6]}", batch_size=BATCH)
    head = await store.last_position()
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    await _until(lambda: relay.position >= head)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return count / elapsed


async def polling_relay(store: TransactionalStore, bus: Bus, count: int) -> float:
    """The seed's outbox relay: a batch every 100 ms, whatever is waiting."""
    relay = Relay(store, bus, name=f"p{uuid.uuid4().hex[:6]}", batch_size=BATCH)
    started = time.perf_counter()
    while True:
        if not await relay.step():
            return count / (time.perf_counter() - started)
        await asyncio.sleep(POLL_S)


def _raw_messages(log: list[StoredEvent]) -> list[OutgoingMessage]:
    return [event_message(e) for e in log]  # built before the clock starts


async def raw_kafka_producer(
    brokers: Brokers, topic: str, messages: list[OutgoingMessage]
) -> float:
    """aiokafka at its fastest: record batches per partition built by hand, sent at once."""
    producer = AIOKafkaProducer(
        bootstrap_servers=brokers.kafka.bootstrap_servers,
        acks="all",
        max_batch_size=512 * 1024,
        max_request_size=1_048_576,
    )
    await producer.start()
    try:
        await producer.partitions_for(topic)  # metadata fetched before the clock starts
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            records = [
                (m.key.encode(), m.body, [(k, v.encode()) for k, v in m.headers.items()])
                for m in messages[start : start + BATCH]
            ]
            await send_kafka_batches(producer, topic, records)
        return len(messages) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def raw_nats_producer(
    brokers: Brokers, prefix: str, messages: list[OutgoingMessage]
) -> float:
    client = await nats.connect(brokers.nats.url)
    js = client.jetstream()
    await js.add_stream(name=prefix.upper(), subjects=[f"{prefix}.>"])
    try:
        started = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            pending = [
                await js.publish_async(
                    f"{prefix}.{m.stream_type}.{m.key}",
                    m.body,
                    headers={**m.headers, "Nats-Msg-Id": m.message_id},
                )
                for m in messages[start : start + BATCH]
            ]
            await asyncio.gather(*pending)
        return len(messages) / (time.perf_counter() - started)
    finally:
        await client.close()


# -- consumer contenders ---------------------------------------------------------------------


def counting_consumer(name: str) -> Consumer:
    """A document per account counting its events: loaded once per batch, written once."""

    async def load(tx: UnitOfWork, events: Sequence[IncomingEvent], shared: dict[str, Any]) -> None:
        docs = shared["docs"] = COUNTS.bind(tx, COUNTS.name)
        await docs.load_many({e.stream_id for e in events})

    async def count(event: Event, ctx: MessageContext) -> None:
        docs = ctx.batch["docs"]
        body = await docs.get(ctx.incoming.stream_id) or {"n": 0}
        await docs.put(ctx.incoming.stream_id, {"n": body["n"] + 1})

    async def write(
        tx: UnitOfWork, events: Sequence[IncomingEvent], shared: dict[str, Any]
    ) -> None:
        await shared["docs"].flush()

    async def prepare(store: TransactionalStore) -> None:
        await ensure_tables(store, [COUNTS])

    return Consumer(
        name=name,
        stream_types=["Account"],
        handlers={Deposited.event_type: count},
        registry=EventRegistry([Deposited]),
        batch_size=BATCH,
        prepare=prepare,
        before_batch=load,
        after_batch=write,
    )


async def eskit_consumer(store: TransactionalStore, bus: Bus, count: int) -> float:
    runner = ConsumerRunner(store, bus, counting_consumer(f"c{uuid.uuid4().hex[:6]}"))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await _until(lambda: runner.handled > 0)  # the clock starts at the first batch, not the join
    started = time.perf_counter()
    await _until(lambda: runner.handled >= count)
    rate = (count - BATCH) / (time.perf_counter() - started)
    stop.set()
    await task
    return rate


RAW_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw_inbox (consumer text, id text, PRIMARY KEY (consumer, id));
CREATE TABLE IF NOT EXISTS raw_counts (id text PRIMARY KEY, n bigint NOT NULL);
"""


async def _raw_apply(
    conn: psycopg.AsyncConnection[Any], group: str, items: list[tuple[str, str]]
) -> None:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO raw_inbox VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(group, message_id) for message_id, _ in items],
        )
        await cur.executemany(
            "INSERT INTO raw_counts VALUES (%s, 1) ON CONFLICT (id) DO UPDATE SET n = raw_counts.n + 1",
            [(key,) for _, key in items],
        )


async def raw_kafka_consumer(brokers: Brokers, url: str, topic: str, count: int) -> float:
    group = f"raw{uuid.uuid4().hex[:6]}"
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(RAW_SCHEMA.encode())
        await conn.commit()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=brokers.kafka.bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=2000,
            heartbeat_interval_ms=400,
        )
        await consumer.start()
        try:
            done, started = 0, 0.0
            while done < count:
                batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
                for partition, records in batches.items():
                    if not started:
                        started = time.perf_counter()
                    items = [
                        (dict(r.headers)["eskit-message-id"].decode(), r.key.decode())
                        for r in records
                    ]
                    await _raw_apply(conn, group, items)
                    await consumer.commit(
                        {partition: OffsetAndMetadata(records[-1].offset + 1, "")}
                    )
                    done += len(records)
            return (count - BATCH) / (time.perf_counter() - started)
        finally:
            await consumer.stop()


async def raw_nats_consumer(brokers: Brokers, url: str, prefix: str, count: int) -> float:
    group = f"raw{uuid.uuid4().hex[:6]}"
    client = await nats.connect(brokers.nats.url)
    js = client.jetstream()
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(RAW_SCHEMA.encode())
        await conn.commit()
        subscription = await js.pull_subscribe(
            f"{prefix}.>",
            durable=group,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=10_000),
        )
        done, started = 0, 0.0
        while done < count:
            messages = await subscription.fetch(BATCH, timeout=2)
            if not started:
                started = time.perf_counter()
            items = [(m.headers["Nats-Msg-Id"], m.subject.rsplit(".", 1)[1]) for m in messages]  # type: ignore[index]
            await _raw_apply(conn, group, items)
            await asyncio.gather(*(m.ack() for m in messages))
            done += len(messages)
    await client.close()
    return (count - BATCH) / (time.perf_counter() - started)


# -- latency ---------------------------------------------------------------------------------


async def latency(
    store: TransactionalStore, bus: Bus, seconds: float, *, polling: bool
) -> tuple[float, float]:
    """p50 and p99 (ms) from an append's commit to its event handled, at 500 appends/s."""
    committed: dict[str, float] = {}
    handled: dict[str, float] = {}

    async def note(event: Event, ctx: MessageContext) -> None:
        handled[ctx.incoming.event_id] = time.perf_counter()

    consumer = Consumer(
        name=f"l{uuid.uuid4().hex[:6]}",
        stream_types=["Account"],
        handlers={Deposited.event_type: note},
        registry=EventRegistry([Deposited]),
    )
    relay = Relay(store, bus, name=f"l{uuid.uuid4().hex[:6]}", batch_size=BATCH)
    await relay.load()
    relay.position = await store.last_position()  # only what this run appends
    async with store.transaction() as tx:
        await tx.checkpoints.reset(relay.checkpoint, relay.position)
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set():  # the seed's relay: one batch every 100 ms
            await relay.step()
            await asyncio.sleep(POLL_S)

    relay_task = asyncio.create_task(poll() if polling else relay.run(stop))
    runner = ConsumerRunner(store, bus, consumer)
    consumer_task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(3.0)  # the group joins before the clock starts
    total = int(seconds * 500)
    start = time.perf_counter()
    for i in range(total):
        due = start + i / 500
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        event_id = uuid.uuid4()
        from eskit.store import NewEvent

        await store.append(
            f"acc-{i % ACCOUNTS}",
            [NewEvent(Deposited(amount=1, payment_id=f"l{i}"), event_id=event_id)],
            expected_version=ANY,
            stream_type="Account",
        )
        committed[str(event_id)] = time.perf_counter()
    await _until(lambda: len(handled.keys() & committed.keys()) >= total, timeout_s=30)
    stop.set()
    await asyncio.gather(relay_task, consumer_task)
    waits = sorted((handled[k] - committed[k]) * 1000 for k in committed if k in handled)
    if len(waits) < total:
        raise RuntimeError(f"only {len(waits)} of {total} appends were handled")
    return waits[len(waits) // 2], waits[min(len(waits) - 1, int(len(waits) * 0.99))]


# -- the run ---------------------------------------------------------------------------------


async def measure(
    cluster: postgres_server.Cluster, brokers: Brokers, args: argparse.Namespace
) -> list[list[str]]:
    count = 5_000 if args.quick else 20_000
    rows: list[list[str]] = []
    for kind in ("kafka", "nats"):
        results: dict[str, list[float]] = {}
        add = _recorder(kind, results)

        for _sample in range(args.samples):
            with cluster.eskit_database() as url:
                async with PostgresEventStore.open(url) as store:
                    await fill(store, count)
                    log = await log_of(store)
                    prefix = f"b{uuid.uuid4().hex[:8]}"
                    bus = brokers.bus(kind, prefix)
                    add("relay: eskit", await eskit_relay(store, bus, count))
                    add("relay: raw producer", await _raw_producer(kind, brokers, log))
                    add("relay: hand-written", await _raw_relay(kind, brokers, url))
                    polling_bus = brokers.bus(kind, prefix + "p")
                    add("relay: polling 100 ms", await polling_relay(store, polling_bus, count))
                    await polling_bus.close()
                    add("consumer: eskit", await eskit_consumer(store, bus, count))
                    add("consumer: raw", await _raw_consumer(kind, brokers, url, prefix, count))
                    await bus.close()
        seconds = 4.0 if args.quick else 10.0
        waits = []
        for polling in (False, True):  # a store each: every stream's history on the bus
            with cluster.eskit_database() as url:
                async with PostgresEventStore.open(url) as store:
                    bus = brokers.bus(kind, f"l{uuid.uuid4().hex[:8]}")
                    waits.append(await latency(store, bus, seconds, polling=polling))
                    await bus.close()
        rows += _rows(kind, results, waits[0], waits[1])
    return rows


def _recorder(kind: str, results: dict[str, list[float]]) -> Callable[[str, float], None]:
    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)
        print(f"  {kind} {name}: {value:,.0f}", file=sys.stderr, flush=True)

    return add


async def _raw_producer(kind: str, brokers: Brokers, log: list[StoredEvent]) -> float:
    messages = _raw_messages(log)
    prefix = f"raw{uuid.uuid4().hex[:8]}"
    if kind == "kafka":
        bus = KafkaBus(brokers.kafka.bootstrap_servers, Topology(prefix=prefix))
        await bus.ensure_topics({f"{prefix}.Account"})  # created before the clock, as eskit's
        return await raw_kafka_producer(brokers, f"{prefix}.Account", messages)
    return await raw_nats_producer(brokers, prefix, messages)


async def _raw_relay(kind: str, brokers: Brokers, url: str) -> float:
    prefix = f"hand{uuid.uuid4().hex[:8]}"
    if kind == "kafka":
        bus = KafkaBus(brokers.kafka.bootstrap_servers, Topology(prefix=prefix))
        await bus.ensure_topics({f"{prefix}.Account"})
        await bus.close()
        return await raw_relay_kafka(
            url, brokers.kafka.bootstrap_servers, f"{prefix}.Account", BATCH
        )
    client = await nats.connect(brokers.nats.url)
    try:
        js = client.jetstream()
        await js.add_stream(name=prefix.upper(), subjects=[f"{prefix}.>"])
        return await raw_relay_nats(url, js, prefix, BATCH)
    finally:
        await client.close()


async def _raw_consumer(kind: str, brokers: Brokers, url: str, prefix: str, count: int) -> float:
    if kind == "kafka":
        return await raw_kafka_consumer(brokers, url, f"{prefix}.Account", count)
    return await raw_nats_consumer(brokers, url, prefix, count)


def _rows(
    kind: str,
    results: dict[str, list[float]],
    eskit: tuple[float, float],
    polling: tuple[float, float],
) -> list[list[str]]:
    med = {name: statistics.median(values) for name, values in results.items()}
    spread = {name: f"{min(v):,.0f}-{max(v):,.0f}" for name, v in results.items()}
    limit = {"relay": med["relay: raw producer"], "consumer": med["consumer: raw"]}
    hand = med["relay: hand-written"]
    rows = []
    for name, value in med.items():
        part = name.split(":")[0]
        versus_hand = f"{value / hand:.0%}" if part == "relay" else ""
        rate = f"{value:,.0f} ev/s"
        rows.append([kind, name, rate, spread[name], f"{value / limit[part]:.0%}", versus_hand])
    for name, (p50, p99) in (
        ("latency: eskit relay (wakes on commits)", eskit),
        ("latency: polling relay 100 ms", polling),
    ):
        rows.append([kind, name, f"p50 {p50:.1f} ms", f"p99 {p99:.1f} ms", "", ""])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    with postgres_server.start() as cluster, KafkaBroker() as kafka, NatsServer() as nats_server:
        rows = asyncio.run(measure(cluster, Brokers(kafka, nats_server), args))
    table = Table(title=f"eskit messaging, median of {args.samples} samples, PostgreSQL store")
    for column in ("broker", "measure", "median", "min-max", "vs raw", "vs hand-written relay"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
