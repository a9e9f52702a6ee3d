"""What the projection tests share: commands, the fold of the log, and an applied-events log.

``AppliedLog`` is a read model with no unique key: its projection inserts one row per event
it handles, so an event applied twice shows up as two rows instead of being absorbed by an
upsert. ``fold_accounts`` computes, from the event store alone, what the ``AccountsById``
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

from bank_accounts.commands import OpenAccount
from bank_accounts.domain import AccountOpened, EmailChanged, MoneyDeposited, MoneyWithdrawn
from bank_accounts.projections import ACCOUNTS, AccountsById
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

__all__ = [
    "ACCOUNT_EVENTS",
    "APPLIED",
    "AccountView",
    "AppliedLog",
    "AppliedLogProjection",
    "FreshStores",
    "RecordingProjection",
    "account_documents",
    "assert_each_once",
    "eventually",
    "fold_accounts",
    "handle_with_retries",
    "open_account",
    "reopen",
    "stored_positions",
    "worker_projections",
]

ACCOUNT_EVENTS = (AccountOpened, MoneyDeposited, MoneyWithdrawn, EmailChanged)


def opened_event(*, balance: int = 0, email: str = "ada@example.com") -> AccountOpened:
    """An AccountOpened event, for tests that append events without commands."""
    return AccountOpened(
        email=email,
        address="1 Main St",
        first_name="Ada",
        last_name="Lovelace",
        balance=balance,
        currency="USD",
        status="active",
    )


def open_account(account_id: str, *, balance: int = 100) -> OpenAccount:
    """An OpenAccount command for ``account_id``."""
    return OpenAccount(
        aggregate_id=account_id,
        email=f"{account_id}@example.com",
        address="1 Main St",
        first_name="Ada",
        last_name="Lovelace",
        balance=balance,
    )


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
class AccountView:
    """The fields of an account document that the log determines."""

    balance: int
    email: str
    version: int


async def fold_accounts(store: EventStoreBackend) -> dict[str, AccountView]:
    """Every BankAccount stream folded from the log; checks versions have no gap."""
    views: dict[str, AccountView] = {}
    async for record in store.read_all(stream_types=["BankAccount"], batch_size=1000):
        data = record.data
        before = views.get(record.stream_id)
        expected_version = 1 if before is None else before.version + 1
        assert record.version == expected_version, f"gap in {record.stream_id}"
        if record.event_type == AccountOpened.event_type:
            assert before is None
            views[record.stream_id] = AccountView(data["balance"], data["email"], record.version)
            continue
        assert before is not None, f"{record.event_type} before the account was opened"
        balance, email = before.balance, before.email
        if record.event_type == MoneyDeposited.event_type:
            balance += data["amount"]
        elif record.event_type == MoneyWithdrawn.event_type:
            balance -= data["amount"]
        elif record.event_type == EmailChanged.event_type:
            email = data["email"]
        else:  # pragma: no cover - the service has no other events
            raise AssertionError(f"unexpected event {record.event_type}")
        views[record.stream_id] = AccountView(balance, email, record.version)
    return views


async def account_documents(store: TransactionalStore) -> dict[str, AccountView]:
    """The AccountsById documents, reduced to what the log determines."""
    docs = await ACCOUNTS.all(store)
    return {
        doc_id: AccountView(body["balance"], body["email"], body["version"])
        for doc_id, body in docs.items()
    }


async def stored_positions(store: EventStoreBackend, stream_type: str = "BankAccount") -> list[int]:
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
    """Base of test projections: one row in ``applied`` per bank-account event handled.

    ``check(record)`` runs first in each handler; subclasses make it raise to play a
    failing handler.
    """

    applied: ClassVar[AppliedLog]
    stream_types = ("BankAccount",)

    def check(self, record: StoredEvent) -> None:
        """Raise to fail on ``record`` (nothing by default)."""

    async def _record(self, ctx: ProjectionContext) -> None:
        self.check(ctx.event)
        ctx.writer(self.applied).add(ctx.event)

    @handles(AccountOpened)
    async def opened(self, event: AccountOpened, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)

    @handles(MoneyDeposited)
    async def deposited(self, event: MoneyDeposited, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)

    @handles(MoneyWithdrawn)
    async def withdrawn(self, event: MoneyWithdrawn, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)

    @handles(EmailChanged)
    async def email_changed(self, event: EmailChanged, ctx: ProjectionContext) -> None:
        """One row."""
        await self._record(ctx)


class AppliedLogProjection(RecordingProjection):
    """Adds a row to ``test_applied_events`` for every bank-account event it handles."""

    name = "test_applied_events"
    applied = APPLIED
    read_models = (APPLIED,)


def worker_projections() -> list[Projection]:
    """What the worker process of the SIGKILL test runs (``--projections`` names this)."""
    return [AccountsById(), AppliedLogProjection()]


def assert_each_once(counts: Counter[int], positions: Sequence[int]) -> None:
    """Every position in ``positions`` applied exactly once, and nothing else applied."""
    twice = {p: n for p, n in counts.items() if n != 1}
    assert not twice, f"events applied more than once: {sorted(twice.items())[:10]}"
    missing = sorted(set(positions) - set(counts))
    assert not missing, f"events never applied: {missing[:10]}"
    extra = sorted(set(counts) - set(positions))
    assert not extra, f"rows for positions that are no bank-account events: {extra[:10]}"


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
