"""What the projection tests share: commands, the fold of the log, and an applied-events log.

``AppliedLog`` is a read model with no unique key: its projection inserts one row per event
it handles, so an event applied twice shows up as two rows instead of being absorbed by an
upsert. ``fold_wallets`` computes, from the event store alone, what the ``WalletsById``
documents must say.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from eskit.errors import ConcurrencyError
from eskit.projections import Projection, ProjectionContext, Table, handles
from eskit.store import (
    EventStoreBackend,
    SQLiteEventStore,
    StoredEvent,
    TransactionalStore,
    UnitOfWork,
    require_transactions,
)
from eskit.testing.postgres import PostgresServer
from tests.wallets.domain import Deposited, OpenWallet, OwnerRenamed, WalletOpened, Withdrawn
from tests.wallets.projections import WALLETS, WalletsById

__all__ = [
    "APPLIED",
    "WALLET_EVENTS",
    "AppliedLog",
    "AppliedLogProjection",
    "FreshStores",
    "RecordingProjection",
    "WalletView",
    "assert_each_once",
    "eventually",
    "fold_wallets",
    "handle_with_retries",
    "open_wallet",
    "reopen",
    "stored_positions",
    "wallet_documents",
    "worker_projections",
]

WALLET_EVENTS = (WalletOpened, Deposited, Withdrawn, OwnerRenamed)


def opened_event(*, balance: int = 0, owner: str = "Ada Lovelace") -> WalletOpened:
    """A WalletOpened event, for tests that append events without commands."""
    return WalletOpened(owner=owner, balance=balance)


def open_wallet(wallet_id: str, *, balance: int = 100) -> OpenWallet:
    """An OpenWallet command for ``wallet_id``, owned by Ada Lovelace."""
    return OpenWallet(aggregate_id=wallet_id, owner="Ada Lovelace", balance=balance)


async def handle_with_retries(handler: Any, command: Any, *, attempts: int = 200) -> Any:
    """Handle ``command``, retrying (same command id, so at most once) on ConcurrencyError."""
    for _ in range(attempts - 1):
        try:
            return await handler.handle(command)
        except ConcurrencyError:
            await asyncio.sleep(0)
    return await handler.handle(command)


class FreshStores:
    """Opens stores on fresh databases of one backend (``sqlite`` or ``postgres``)."""

    def __init__(self, backend: str, server: PostgresServer | None) -> None:
        self.backend = backend
        self._server = server

    @contextmanager
    def url(self) -> Iterator[str]:
        """The URL of a fresh, migrated database; removed on exit."""
        if self._server is None:
            with tempfile.TemporaryDirectory(prefix="eskit-proj-") as folder:
                path = Path(folder).resolve() / "events.db"
                yield f"sqlite:///{path}"
        else:
            with self._server.database() as url:
                yield url

    @asynccontextmanager
    async def store(self) -> AsyncIterator[EventStoreBackend]:
        """An open store on a fresh database; closed and removed on exit."""
        with self.url() as url:
            if self._server is None:
                async with SQLiteEventStore.open(url.removeprefix("sqlite:///")) as sqlite_store:
                    yield sqlite_store
            else:
                from eskit.store.postgres import PostgresEventStore

                async with PostgresEventStore.open(url) as pg_store:
                    yield pg_store


@asynccontextmanager
async def reopen(store: EventStoreBackend) -> AsyncIterator[EventStoreBackend]:
    """A second store object on the database of ``store`` (as another process would open)."""
    if isinstance(store, SQLiteEventStore):
        async with SQLiteEventStore.open(store.path) as sqlite_store:
            yield sqlite_store
    else:
        from eskit.store.postgres import PostgresEventStore

        assert isinstance(store, PostgresEventStore)
        async with PostgresEventStore.open(store.url) as pg_store:
            yield pg_store


# -- what the log says ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WalletView:
    """The fields of a wallet document that the log determines."""

    balance: int
    owner: str
    version: int


async def fold_wallets(store: EventStoreBackend) -> dict[str, WalletView]:
    """Every Wallet stream folded from the log; checks versions have no gap."""
    views: dict[str, WalletView] = {}
    async for record in store.read_all(stream_types=["Wallet"], batch_size=1000):
        data = record.data
        before = views.get(record.stream_id)
        expected_version = 1 if before is None else before.version + 1
        assert record.version == expected_version, f"gap in {record.stream_id}"
        if record.event_type == WalletOpened.event_type:
            assert before is None
            views[record.stream_id] = WalletView(data["balance"], data["owner"], record.version)
            continue
        assert before is not None, f"{record.event_type} before the wallet was opened"
        balance, owner = before.balance, before.owner
        if record.event_type == Deposited.event_type:
            balance += data["amount"]
        elif record.event_type == Withdrawn.event_type:
            balance -= data["amount"]
        elif record.event_type == OwnerRenamed.event_type:
            owner = data["owner"]
        else:  # pragma: no cover - wallets have no other events
            raise AssertionError(f"unexpected event {record.event_type}")
        views[record.stream_id] = WalletView(balance, owner, record.version)
    return views


async def wallet_documents(store: TransactionalStore) -> dict[str, WalletView]:
    """The WalletsById documents, reduced to what the log determines."""
    docs = await WALLETS.all(store)
    return {
        doc_id: WalletView(body["balance"], body["owner"], body["version"])
        for doc_id, body in docs.items()
    }


async def stored_positions(store: EventStoreBackend, stream_type: str = "Wallet") -> list[int]:
    """Positions of every event of ``stream_type`` streams, in order."""
    return [e.position async for e in store.read_all(stream_types=[stream_type])]


# -- a read model that shows double application -----------------------------------------


class AppliedLogWriter:
    """Buffers one row per handled event and inserts them when the batch ends."""

    def __init__(self, tx: UnitOfWork, table: Table, base: str) -> None:
        self.tx = tx
        self.table = table
        self.base = base
        self.rows: list[dict[str, Any]] = []

    def add(self, record: StoredEvent) -> None:
        """Remember that ``record`` was handled in this batch."""
        self.rows.append(
            {
                "position": record.position,
                "application": uuid.uuid4().hex,
                "stream_id": record.stream_id,
                "version": record.version,
            }
        )

    async def flush(self) -> None:
        """Insert the batch's rows (each application has a key of its own: a second one
        adds a second row)."""
        rows, self.rows = self.rows, []
        await self.tx.tables.upsert(self.table, self.base, rows)


class AppliedLog:
    """A read model of one row per applied event: ``position, stream_id, version``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.table = Table(
            name,
            {"position": int, "application": str, "stream_id": str, "version": int},
            key=("position", "application"),
        )

    def table_names(self, base: str) -> list[str]:
        """See ReadModel.table_names."""
        return [base]

    async def create(self, tx: UnitOfWork, base: str) -> None:
        """See ReadModel.create."""
        await tx.tables.create(self.table, base)

    def bind(self, tx: UnitOfWork, base: str) -> AppliedLogWriter:
        """See ReadModel.bind."""
        return AppliedLogWriter(tx, self.table, base)

    async def counts(self, store: TransactionalStore) -> Counter[int]:
        """How often each position was applied."""
        rows = await store.committed.sql.fetch(
            f"SELECT position, count(*) FROM {self.name} GROUP BY position"
        )
        return Counter({int(position): int(times) for position, times in rows})


APPLIED = AppliedLog("test_applied_events")


class RecordingProjection(Projection):
    """Base of test projections: one row in ``applied`` per wallet event handled.

    ``check(record)`` runs first in each handler; subclasses make it raise to play a
    failing handler.
    """

    applied: ClassVar[AppliedLog]
    stream_types = ("Wallet",)

    def check(self, record: StoredEvent) -> None:
        """Raise to fail on ``record`` (nothing by default)."""

    async def _record(self, ctx: ProjectionContext) -> None:
        self.check(ctx.event)
        ctx.writer(self.applied).add(ctx.event)

    @handles(WalletOpened)
    async def opened(self, event: WalletOpened, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)

    @handles(Deposited)
    async def deposited(self, event: Deposited, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)

    @handles(Withdrawn)
    async def withdrawn(self, event: Withdrawn, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)

    @handles(OwnerRenamed)
    async def renamed(self, event: OwnerRenamed, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)


class AppliedLogProjection(RecordingProjection):
    """Adds a row to ``test_applied_events`` for every wallet event it handles."""

    name = "test_applied_events"
    applied = APPLIED
    read_models = (APPLIED,)


def worker_projections() -> list[Projection]:
    """What the worker process of the SIGKILL test runs (``--projections`` names this)."""
    return [WalletsById(), AppliedLogProjection()]


def assert_each_once(counts: Counter[int], positions: Sequence[int]) -> None:
    """Every position in ``positions`` applied exactly once, and nothing else applied."""
    twice = {p: n for p, n in counts.items() if n != 1}
    assert not twice, f"events applied more than once: {sorted(twice.items())[:10]}"
    missing = sorted(set(positions) - set(counts))
    assert not missing, f"events never applied: {missing[:10]}"
    extra = sorted(set(counts) - set(positions))
    assert not extra, f"rows for positions that are no wallet events: {extra[:10]}"


async def eventually(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0, what: str = ""
) -> None:
    """Poll ``condition`` until it holds (for states no signal announces, such as a failure)."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        await asyncio.sleep(0.01)


async def committed_head(store: EventStoreBackend) -> int:
    """The last position of every committed event, read horizon or not.

    ``last_position()`` stops below any write transaction still open, and a running
    projection's batch is one: once the writers are done, this is the head to wait for.
    """
    committed = require_transactions(store, "tests").committed
    rows = await committed.sql.fetch("SELECT coalesce(max(position), 0) FROM eskit_events")
    return int(rows[0][0])
