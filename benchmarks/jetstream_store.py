"""The event store on JetStream beside the SQL stores and raw nats-py, in one run.

    python benchmarks/jetstream_store.py            # 5 samples per cell, 2 s per append sample
    python benchmarks/jetstream_store.py --quick    # 3 samples per cell, 1 s per append sample

It starts nats-server with JetStream (file storage) and an embedded PostgreSQL (fsync on),
writes SQLite files to a temporary folder, and measures, contenders taking turns within
each round:

* **append x1**: one event per append, 1, 4 and 16 concurrent writers (asyncio tasks over
  one store, or one client connection), each on a stream of its own: the first append
  expects no stream, every later one the version the writer's last append returned. The
  JetStream store, the SQLite store (``synchronous=FULL``) and the PostgreSQL store (a pool
  of 16) against raw nats-py on a stream of its own (file storage, atomic batches allowed):
  ``js.publish`` of a body as large as the store's event record, awaiting its PubAck (the
  limit), and an atomic batch of two messages, an empty one and that body, awaiting the
  commit's answer: what the store's appends of several events send (a one-event append is
  two plain publishes: the id's claim, then the event). The server syncs an atomic batch
  to disk before it answers, a plain publish only every two minutes (its default), so the
  plain publish is measured once more on a second nats-server that syncs every message
  (``sync_interval: always``): the limit at the durability of the SQL stores. Beside events/s,
  the CPU this process spends per event (client, store and event loop; for SQLite its
  writer thread too);
* **load**: ``read_payloads`` of a stream of 1,000 bank-account events (what
  ``Repository.load`` reads without a snapshot) from each store, against raw nats-py reading
  the same 1,000 records of the JetStream store's stream: a batch direct get, and an ordered
  consumer.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import orjson
import uvloop
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy, StorageType, StreamConfig
from rich.console import Console
from rich.table import Table

sys.path[:0] = [str(Path(__file__).parent)]  # harness, workloads

from bank_accounts import MoneyDeposited  # noqa: E402
from eskit.store import SQLiteEventStore  # noqa: E402
from eskit.store.encoding import encode_events  # noqa: E402
from eskit.store.jetstream import JetStreamEventStore  # noqa: E402
from eskit.store.jetstream.records import event_body  # noqa: E402
from eskit.store.port import EventStoreBackend  # noqa: E402
from eskit.store.postgres import PostgresEventStore  # noqa: E402
from eskit.testing.brokers import NatsServer  # noqa: E402
from harness import postgres_server  # noqa: E402
from harness.progress import note  # noqa: E402
from harness.timing import rotated  # noqa: E402
from workloads.account_events import STREAM_TYPE, account_events, deposit_data  # noqa: E402

WRITERS = (1, 4, 16)
POOL = 16
LOAD_LENGTH = 1_000
LOAD_CHUNK = 250
"""Events per append while filling the load's streams (the JetStream store takes < 500)."""

JETSTREAM, SQLITE, POSTGRES = "JetStream store", "SQLite store", "PostgreSQL store"
RAW_PUBLISH = "raw js.publish"
RAW_SYNCED = "raw js.publish, fsync each"
RAW_BATCH = "raw atomic batch of 2"
RAW_DIRECT = "raw batch direct get"
RAW_ORDERED = "raw ordered consumer"


@dataclass(frozen=True)
class Settings:
    samples: int
    append_seconds: float
    load_reps: int


@dataclass
class Cell:
    """The samples of one contender in one case."""

    samples: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    """Process CPU per event, microseconds, per sample (appends only)."""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def spread(self) -> str:
        return f"{min(self.samples):,.0f}-{max(self.samples):,.0f}"


Writer = Callable[[int, float], Awaitable[int]]
"""Runs writer ``index`` until the deadline (a ``perf_counter`` time); events written."""


# -- append contenders -----------------------------------------------------------------------


def store_writer(store: EventStoreBackend) -> Writer:
    """One event per append on a new stream: NO_STREAM first, then the exact version."""
    events = [MoneyDeposited(**deposit_data(1))]  # immutable; ids are given per append

    async def write(index: int, deadline: float) -> int:
        stream_id = f"acct-{uuid.uuid4().hex}"
        version = 0
        while time.perf_counter() < deadline:
            result = await store.append(
                stream_id, events, expected_version=version, stream_type=STREAM_TYPE
            )
            version = result.version
        return version

    return write


def record_size() -> int:
    """The body of the JetStream store's record of one benchmark event, in bytes."""
    [encoded] = encode_events([MoneyDeposited(**deposit_data(1))])
    return len(event_body(encoded))


async def raw_stream(client: Client, name: str) -> None:
    """A stream of its own for raw publishing, configured as the store's."""
    await client.jetstream().add_stream(
        StreamConfig(
            name=name,
            subjects=[f"{name}.>"],
            storage=StorageType.FILE,
            allow_atomic=True,
            allow_direct=True,
        )
    )


def raw_publisher(client: Client, prefix: str, body: bytes) -> Writer:
    """``js.publish`` of one message per event, each awaiting its PubAck."""
    js = client.jetstream()

    async def write(index: int, deadline: float) -> int:
        subject = f"{prefix}.{index}.{uuid.uuid4().hex}"
        count = 0
        while time.perf_counter() < deadline:
            await js.publish(subject, body)
            count += 1
        return count

    return write


def raw_batcher(client: Client, prefix: str, body: bytes) -> Writer:
    """An atomic batch per event: an empty record and the event, committed together."""

    async def write(index: int, deadline: float) -> int:
        stream = uuid.uuid4().hex
        ids, events = f"{prefix}.ids.{stream}", f"{prefix}.events.{stream}"
        count = 0
        while time.perf_counter() < deadline:
            batch = uuid.uuid4().hex
            await client.publish(
                ids, b"", headers={"Nats-Batch-Id": batch, "Nats-Batch-Sequence": "1"}
            )
            reply = await client.request(
                events,
                body,
                timeout=5.0,
                headers={
                    "Nats-Batch-Id": batch,
                    "Nats-Batch-Sequence": "2",
                    "Nats-Batch-Commit": "1",
                },
            )
            answer = orjson.loads(reply.data)
            if "error" in answer:
                raise RuntimeError(f"the raw batch was refused: {answer['error']}")
            count += 1
        return count

    return write


async def run_writers(write: Writer, writers: int, seconds: float) -> tuple[float, float]:
    """Events/s of ``writers`` concurrent writers for ``seconds``, and CPU µs per event."""
    cpu = time.process_time()
    started = time.perf_counter()
    deadline = started + seconds
    written = sum(await asyncio.gather(*(write(i, deadline) for i in range(writers))))
    elapsed = time.perf_counter() - started
    return written / elapsed, (time.process_time() - cpu) / written * 1e6


# -- load contenders -------------------------------------------------------------------------


Reader = Callable[[], Awaitable[int]]
"""Reads the 1,000-event stream once; the number of events it got."""


async def fill(store: EventStoreBackend, stream_id: str) -> None:
    events = account_events(0, LOAD_LENGTH)
    for start in range(0, LOAD_LENGTH, LOAD_CHUNK):
        await store.append(
            stream_id,
            events[start : start + LOAD_CHUNK],
            expected_version=start,
            stream_type=STREAM_TYPE,
        )


def store_reader(store: EventStoreBackend, stream_id: str) -> Reader:
    async def read() -> int:
        return len(await store.read_payloads(stream_id))

    return read


def direct_reader(client: Client, stream: str, subject: str) -> Reader:
    """One batch direct get of up to 1,000 records on ``subject``, until its end mark."""
    api = f"$JS.API.DIRECT.GET.{stream}"
    request = orjson.dumps({"seq": 1, "next_by_subj": subject, "batch": LOAD_LENGTH})

    async def read() -> int:
        records: list[Msg] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def collect(msg: Msg) -> None:
            headers = msg.headers or {}
            if "Nats-Sequence" in headers:
                records.append(msg)
            elif not done.done():
                done.set_result(None)  # 204: end of the batch (or an error: counted short)

        inbox = client.new_inbox()
        sub = await client.subscribe(inbox, cb=collect)
        try:
            await client.publish(api, request, reply=inbox)
            await asyncio.wait_for(done, 10.0)
        finally:
            await sub.unsubscribe()
        return len(records)

    return read


def ordered_reader(client: Client, subject: str) -> Reader:
    """An ordered consumer on ``subject`` from its start, until 1,000 records came."""
    js = client.jetstream()

    async def read() -> int:
        received = 0
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def collect(msg: Msg) -> None:
            nonlocal received
            received += 1
            if received == LOAD_LENGTH and not done.done():
                done.set_result(None)

        sub = await js.subscribe(
            subject, cb=collect, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        try:
            await asyncio.wait_for(done, 10.0)
        finally:
            await sub.unsubscribe()
        return received

    return read


async def mean_ms(read: Reader, reps: int) -> float:
    started = time.perf_counter()
    for _ in range(reps):
        got = await read()
        if got != LOAD_LENGTH:
            raise RuntimeError(f"a load read {got} events, expected {LOAD_LENGTH}")
    return (time.perf_counter() - started) / reps * 1000


# -- the run ---------------------------------------------------------------------------------


class SyncingNatsServer(NatsServer):
    """nats-server that syncs every JetStream write to disk before acknowledging it."""

    def _command(self) -> list[str]:
        config = self.store_dir / "sync.conf"
        config.write_text("jetstream {\n  sync_interval: always\n}\n")
        return [*super()._command(), "-c", str(config)]


class Stores:
    """The three stores and raw clients, open for the whole run."""

    def __init__(self, nats_url: str, synced_url: str, pg_url: str, sqlite_path: Path) -> None:
        self.nats_url = nats_url
        self.synced_url = synced_url
        self.pg_url = pg_url
        self.sqlite_path = sqlite_path

    async def __aenter__(self) -> Stores:
        self._jetstream = JetStreamEventStore.open(self.nats_url, name="bench")
        self.jetstream = await self._jetstream.__aenter__()
        self.sqlite = SQLiteEventStore(self.sqlite_path)
        await self.sqlite.start()
        self.postgres = PostgresEventStore(self.pg_url, min_connections=POOL, max_connections=POOL)
        await self.postgres.start()
        self.client = await nats.connect(self.nats_url)
        self.synced = await nats.connect(self.synced_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.synced.close()
        await self.client.close()
        await self.postgres.close()
        await self.sqlite.close()
        await self._jetstream.__aexit__(None, None, None)


async def appends(stores: Stores, settings: Settings) -> dict[tuple[str, int], Cell]:
    body = b"x" * record_size()
    await raw_stream(stores.client, "RAWPUB")
    await raw_stream(stores.client, "RAWBATCH")
    await raw_stream(stores.synced, "RAWSYNC")
    contenders: dict[str, Writer] = {
        JETSTREAM: store_writer(stores.jetstream),
        SQLITE: store_writer(stores.sqlite),
        POSTGRES: store_writer(stores.postgres),
        RAW_PUBLISH: raw_publisher(stores.client, "RAWPUB", body),
        RAW_SYNCED: raw_publisher(stores.synced, "RAWSYNC", body),
        RAW_BATCH: raw_batcher(stores.client, "RAWBATCH", body),
    }
    cells = {(name, n): Cell() for name in contenders for n in WRITERS}
    for write in contenders.values():  # warm up: connections, pools, caches
        await run_writers(write, max(WRITERS), 0.3)
    names = list(contenders)
    for sample in range(settings.samples):
        for writers in WRITERS:
            for name in rotated(names, sample + writers):
                rate, cpu_us = await run_writers(contenders[name], writers, settings.append_seconds)
                cells[name, writers].samples.append(rate)
                cells[name, writers].cpu_us.append(cpu_us)
        note(f"append x1: round {sample + 1}/{settings.samples} done")
    return cells


async def loads(stores: Stores, settings: Settings) -> dict[str, Cell]:
    stream_id = f"acct-load-{uuid.uuid4().hex[:8]}"
    for store in (stores.jetstream, stores.sqlite, stores.postgres):
        await fill(store, stream_id)
    names = stores.jetstream.names
    subject = names.stream_filter(stream_id)
    contenders: dict[str, Reader] = {
        JETSTREAM: store_reader(stores.jetstream, stream_id),
        SQLITE: store_reader(stores.sqlite, stream_id),
        POSTGRES: store_reader(stores.postgres, stream_id),
        RAW_DIRECT: direct_reader(stores.client, names.stream, subject),
        RAW_ORDERED: ordered_reader(stores.client, subject),
    }
    cells = {name: Cell() for name in contenders}
    for read in contenders.values():
        await mean_ms(read, 2)
    order = list(contenders)
    for sample in range(settings.samples):
        for name in rotated(order, sample):
            cells[name].samples.append(await mean_ms(contenders[name], settings.load_reps))
        note(f"load: round {sample + 1}/{settings.samples} done")
    return cells


# -- the report ------------------------------------------------------------------------------


def append_table(cells: dict[tuple[str, int], Cell], settings: Settings) -> Table:
    table = Table(
        title=f"append x1: events/s, median of {settings.samples} samples of "
        f"{settings.append_seconds:g} s (min-max)"
    )
    table.add_column("contender")
    for writers in WRITERS:
        table.add_column(f"{writers} writer{'s' if writers > 1 else ''}", justify="right")
    names = dict.fromkeys(name for name, _ in cells)
    for name in names:
        table.add_row(
            name,
            *(f"{cells[name, n].median:,.0f} ({cells[name, n].spread()})" for n in WRITERS),
        )
    for limit in (RAW_PUBLISH, RAW_SYNCED, RAW_BATCH):
        table.add_row(
            f"JetStream store / {limit}",
            *(f"{cells[JETSTREAM, n].median / cells[limit, n].median:.0%}" for n in WRITERS),
        )
    return table


def cpu_table(cells: dict[tuple[str, int], Cell]) -> Table:
    table = Table(title="append x1: CPU of this process per event, µs (median)")
    table.add_column("contender")
    for writers in WRITERS:
        table.add_column(f"{writers} writer{'s' if writers > 1 else ''}", justify="right")
    for name in dict.fromkeys(name for name, _ in cells):
        table.add_row(name, *(f"{statistics.median(cells[name, n].cpu_us):,.0f}" for n in WRITERS))
    return table


def load_table(cells: dict[str, Cell], settings: Settings) -> Table:
    table = Table(
        title=f"load of a {LOAD_LENGTH:,}-event stream: median of {settings.samples} samples, "
        f"each the mean of {settings.load_reps} loads"
    )
    for column in ("contender", "ms per load", "min-max ms", "events/s", "vs fastest raw"):
        table.add_column(column, justify="left" if column == "contender" else "right")
    fastest = min(cells[RAW_DIRECT].median, cells[RAW_ORDERED].median)
    for name, cell in cells.items():
        table.add_row(
            name,
            f"{cell.median:.2f}",
            f"{min(cell.samples):.2f}-{max(cell.samples):.2f}",
            f"{LOAD_LENGTH / cell.median * 1000:,.0f}",
            f"{fastest / cell.median:.0%}",
        )
    return table


async def measure(stores: Stores, settings: Settings) -> list[Table]:
    async with stores:
        append_cells = await appends(stores, settings)
        load_cells = await loads(stores, settings)
    return [
        append_table(append_cells, settings),
        cpu_table(append_cells),
        load_table(load_cells, settings),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 samples of 1 s")
    args = parser.parse_args()
    settings = (
        Settings(samples=3, append_seconds=1.0, load_reps=10)
        if args.quick
        else Settings(samples=5, append_seconds=2.0, load_reps=20)
    )
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="eskit-bench-js-"))
    try:
        note("starting nats-server and embedded PostgreSQL")
        with (
            postgres_server.start() as cluster,
            NatsServer() as nats_server,
            SyncingNatsServer() as synced,
            cluster.eskit_database() as pg_url,
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        ):
            stores = Stores(nats_server.url, synced.url, pg_url, tmp / "events.db")
            tables = runner.run(measure(stores, settings))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    console = Console(width=160)
    for table in tables:
        console.print(table)
    console.print(f"wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
