"""Workload 3: aggregate load latency for bank-account streams of 10 … 10,000 events.

Each stream is one AccountOpened then MoneyDeposited events. Contenders:

* eskit: ``Repository.load`` with snapshots switched off (pure replay), and with a
  snapshot ``tail`` events before the end (``tail`` = N/10, at most 50: what
  ``snapshot_every=100`` leaves on average), written by ``Repository.save`` itself;
* raw: ``SELECT position, version, event_type, schema_version, data … ORDER BY version``
  with the JSON decoded (what rebuilding state needs), no domain objects;
* eventsourcing: ``app.repository.get`` (no cache), and with a snapshot at the same
  version (``take_snapshot``) in an application with snapshotting enabled.

The account keeps every payment id it has seen (for idempotent deposits), in both eskit's
and eventsourcing's aggregate, so a snapshot grows with the stream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson

from bank_accounts import BankAccount, MoneyDeposited, registry
from contenders.eventsourcing_peer import (
    PUT_CHUNK,
    EsAccount,
    EsBank,
    new_account,
    postgres_env,
    sqlite_env,
)
from contenders.raw_sql import (
    DEPOSITED,
    OPENED,
    RawSQLite,
    checkpoint_file,
    pg_bulk_insert,
    pg_connect,
    pg_create_table,
    rows_for,
)
from eskit.app import Repository
from eskit.domain import applies
from eskit.store import SQLiteEventStore
from eskit.store.port import EventStoreBackend
from eskit.store.postgres import PostgresEventStore
from harness.postgres_server import Cluster
from harness.progress import note
from harness.results import Backend, Role, Row
from harness.settings import Settings
from harness.timing import Loop, check_stop, rotated
from workloads.account_events import deposit_data, opened_data

__all__ = ["run"]


class ReplayAccount(BankAccount):
    """BankAccount with snapshots switched off (``Repository(snapshot_every=None)`` falls
    back to the class default of 100, so the switch has to be on the class)."""

    snapshot_every = None  # type: ignore[assignment]


class LedgerAccount(BankAccount):
    """BankAccount without its memory of payment ids: a state of constant size.

    The reference account remembers every payment id (exact idempotency), so its
    snapshot grows with the stream; this one measures the snapshot mechanism itself.
    """

    @applies(MoneyDeposited)
    def _deposited(self, event: MoneyDeposited) -> None:
        self.balance += event.amount


def tail_for(length: int) -> int:
    """Events after the snapshot: N/10, at most 50."""
    return max(1, min(50, length // 10))


Probe = Callable[[int], float]
"""Runs ``reps`` loads of one stream; mean milliseconds per load."""


class Contender:
    def __init__(self, label: str, role: Role, pair: str = "") -> None:
        self.label = label
        self.role = role
        self.pair = pair
        self.probes: dict[int, Probe] = {}


def _timed(reps: int, load: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(reps):
        load()
    return (time.perf_counter() - started) / reps * 1000


# -- eskit --


def _eskit(loop: Loop, store: EventStoreBackend, lengths: tuple[int, ...]) -> list[Contender]:
    replay = Repository(store, ReplayAccount, registry)
    plain, snap = Contender("eskit", "eskit"), Contender("eskit + snapshot", "eskit", "snapshot")
    ledger = Contender("eskit + snapshot, constant state", "eskit")

    async def build(length: int, kind: type[BankAccount] = BankAccount) -> str:
        stream_id = f"acct-{length}-{uuid.uuid4().hex[:8]}"
        head = length - tail_for(length)
        writer = Repository(store, kind, registry, snapshot_every=head)
        account = kind.open(stream_id, **opened_data(length))
        for v in range(1, head):
            account.deposit(**_deposit(v))
        await writer.save(account)  # crosses snapshot_every: a snapshot at version `head`
        account = await writer.load(stream_id)
        for v in range(head, length):
            account.deposit(**_deposit(v))
        await writer.save(account)  # no second crossing: no newer snapshot
        return stream_id

    def probe_for(repo: Repository[Any], stream_id: str, length: int) -> Probe:
        async def loads(reps: int) -> float:
            started = time.perf_counter()
            for _ in range(reps):
                account = await repo.load(stream_id)
            elapsed = time.perf_counter() - started
            assert account.version == length, (account.version, length)
            return elapsed / reps * 1000

        return lambda reps: loop.run(loads(reps))

    snapshots = Repository(store, BankAccount, registry)
    for length in lengths:
        stream_id = loop.run(build(length))
        snapshot = loop.run(store.load_snapshot(stream_id))
        assert snapshot is not None
        assert snapshot.version == length - tail_for(length)
        plain.probes[length] = probe_for(replay, stream_id, length)
        snap.probes[length] = probe_for(snapshots, stream_id, length)
        ledger_id = loop.run(build(length, LedgerAccount))
        ledger.probes[length] = probe_for(
            Repository(store, LedgerAccount, registry), ledger_id, length
        )
    return [plain, snap, ledger]


def _deposit(version: int) -> dict[str, Any]:
    data = deposit_data(version)
    return {"amount": data["amount"], "payment_id": data["payment_id"]}


# -- raw --


def _raw_rows(stream_id: str, length: int) -> list[Any]:
    items = [(OPENED, opened_data(length))] + [
        (DEPOSITED, deposit_data(v)) for v in range(1, length)
    ]
    return rows_for(stream_id, 1, items)


_RAW_SELECT = (
    "SELECT position, version, event_type, schema_version, data FROM raw_events "
    "WHERE stream_id = {mark} ORDER BY version"
)


def _raw_postgres(url: str, stack: ExitStack, lengths: tuple[int, ...]) -> list[Contender]:
    pg_create_table(url)
    conn = stack.enter_context(pg_connect(url))
    raw = Contender("raw psycopg", "raw")
    sql = _RAW_SELECT.format(mark="%s")
    for length in lengths:
        stream_id = f"acct-{length}"
        pg_bulk_insert(conn, iter(_raw_rows(stream_id, length)))

        def probe(reps: int, stream_id: str = stream_id, length: int = length) -> float:
            def load() -> None:
                rows = conn.execute(sql, (stream_id,)).fetchall()
                assert len(rows) == length

            return _timed(reps, load)

        raw.probes[length] = probe
    conn.execute("VACUUM ANALYZE raw_events")
    return [raw]


def _raw_sqlite(path: Path, stack: ExitStack, lengths: tuple[int, ...]) -> list[Contender]:
    db = RawSQLite(path)
    stack.callback(db.close)
    raw = Contender("raw sqlite3", "raw")
    sql = _RAW_SELECT.format(mark="?")
    loads = orjson.loads
    for length in lengths:
        stream_id = f"acct-{length}"
        db.insert(_raw_rows(stream_id, length))

        def probe(reps: int, stream_id: str = stream_id, length: int = length) -> float:
            conn = db.connection()

            def load() -> None:
                rows = [(p, v, t, s, loads(d)) for p, v, t, s, d in conn.execute(sql, (stream_id,))]
                assert len(rows) == length

            return _timed(reps, load)

        raw.probes[length] = probe
    return [raw]


# -- eventsourcing --


def _eventsourcing(
    env: dict[str, str], snap_env: dict[str, str], stack: ExitStack, lengths: tuple[int, ...]
) -> list[Contender]:
    app = EsBank(env=env)
    stack.callback(app.close)
    snap_app = EsBank(env=snap_env)
    stack.callback(snap_app.close)
    plain = Contender("eventsourcing 9.5", "peer")
    snap = Contender("eventsourcing 9.5 + snapshot", "peer", "snapshot")
    for length in lengths:
        account = new_account(length)
        head = length - tail_for(length)
        unsaved = 1
        while account.version < length:
            if account.version == head:
                app.save(account)
                unsaved = 0
                snap_app.take_snapshot(account.id, version=head)
            data = deposit_data(account.version)
            account.deposit(data["amount"], data["currency"], data["payment_id"])
            unsaved += 1
            if unsaved == PUT_CHUNK:
                app.save(account)
                unsaved = 0
        app.save(account)
        plain.probes[length] = _es_probe(app, account.id, length)
        snap.probes[length] = _es_probe(snap_app, account.id, length)
    return [plain, snap]


def _es_probe(app: EsBank, aggregate_id: uuid.UUID, length: int) -> Probe:
    def load() -> None:
        got: EsAccount = app.repository.get(aggregate_id)
        assert got.version == length

    return lambda reps: _timed(reps, load)


# -- the workload ---------------------------------------------------------------------------


def run(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, out: list[Row]
) -> None:
    lengths = settings.load_lengths
    with ExitStack() as stack:
        loop = Loop()
        stack.callback(loop.close)
        contenders: list[Contender] = []
        if backend == "postgres":
            assert cluster is not None
            pg_store = PostgresEventStore(stack.enter_context(cluster.eskit_database()))
            loop.run(pg_store.start())
            stack.callback(lambda: loop.run(pg_store.close()))
            contenders += _eskit(loop, pg_store, lengths)
            contenders += _raw_postgres(
                stack.enter_context(cluster.empty_database()), stack, lengths
            )
            es_url = stack.enter_context(cluster.empty_database())
            contenders += _eventsourcing(
                postgres_env(es_url, pool_size=1),
                postgres_env(es_url, pool_size=1, snapshots=True),
                stack,
                lengths,
            )
        else:
            sqlite_store = SQLiteEventStore(tmp / "load-eskit.db")
            loop.run(sqlite_store.start())
            stack.callback(lambda: loop.run(sqlite_store.close()))
            contenders += _eskit(loop, sqlite_store, lengths)
            contenders += _raw_sqlite(tmp / "load-raw.db", stack, lengths)
            es_path = tmp / "load-es.db"
            contenders += _eventsourcing(
                sqlite_env(es_path), sqlite_env(es_path, snapshots=True), stack, lengths
            )
            for path in (tmp / "load-eskit.db", tmp / "load-raw.db", es_path):
                checkpoint_file(path)
        note(f"{backend} load: streams written")
        rows: dict[tuple[int, str], Row] = {}
        for length in lengths:
            for c in contenders:
                rows[length, c.label] = Row(
                    "load", backend, f"{length:,} events", c.label, c.role, "ms", pair=c.pair
                )
                c.probes[length](1)  # warm up: prepared statements, caches
        out.extend(rows.values())  # filled in as samples come: an interruption keeps them
        for sample in range(settings.samples):
            for length in lengths:
                reps = settings.load_reps[length]
                for c in rotated(contenders, sample + length):
                    check_stop()
                    rows[length, c.label].samples.append(c.probes[length](reps))
            note(f"{backend} load: round {sample + 1}/{settings.samples} done")
