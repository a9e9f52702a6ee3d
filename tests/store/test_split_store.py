"""SplitStore: events in JetStream, read models in SQLite, on a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from eskit.errors import ConfigurationError
from eskit.process.reactors import with_reactors
from eskit.projections import ProjectionRunner
from eskit.projections.inline import InlineProjections
from eskit.projections.rebuild import rebuild
from eskit.store import (
    NO_STREAM,
    EventStoreBackend,
    InMemoryEventStore,
    SplitStore,
    SQLiteEventStore,
    TransactionalStore,
    open_store,
    require_transactions,
)
from eskit.store.jetstream import JetStreamEventStore
from eskit.testing.brokers import NatsServer
from eskit.testing.contract import (
    DocumentContract,
    LeaseContract,
    QueueContract,
    SagaContract,
)
from eskit.testing.contract._events import added
from eskit.testing.jetstream import drop_jetstream_store, fresh_store_name
from tests.projections.support import fold_wallets, open_wallet, wallet_documents
from tests.wallets.domain import Deposit, build_handler
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


@asynccontextmanager
async def split_store(server: NatsServer, tmp_path: Path) -> AsyncIterator[EventStoreBackend]:
    """A fresh JetStream store beside a SQLite read-model file in ``tmp_path``."""
    name = fresh_store_name()
    read_models = f"sqlite:///{tmp_path / 'read-models.db'}"
    try:
        async with open_store(f"{server.url}/{name}", read_models=read_models) as store:
            yield store
    finally:
        await drop_jetstream_store(server.url, name)


@pytest.fixture
async def split(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[TransactionalStore]:
    async with split_store(nats_server, tmp_path) as store:
        yield require_transactions(store, "the tests")


# -- opening -------------------------------------------------------------------------------


async def test_a_nats_url_opens_jetstream_beside_the_read_model_database(
    split: TransactionalStore, tmp_path: Path
) -> None:
    assert isinstance(split, SplitStore)
    assert isinstance(split.inner, JetStreamEventStore)
    assert isinstance(split.read_models, SQLiteEventStore)
    assert (tmp_path / "read-models.db").exists()
    assert split.capabilities.transactions
    assert split.capabilities.events_apart
    assert split.commit_listener() is not None  # other processes' appends wake the runners


async def test_without_a_read_model_url_the_read_models_go_to_a_file_named_for_the_store(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = fresh_store_name()
    try:
        async with open_store(f"{nats_server.url}/{name}") as store:
            assert isinstance(store, SplitStore)
    finally:
        await drop_jetstream_store(nats_server.url, name)
    assert (tmp_path / f"{name}-read-models.db").exists()


@pytest.mark.parametrize("url", ["sqlite:///events.db", "memory://"])
async def test_a_read_model_url_beside_any_other_store_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match="read-model URL"):
        async with open_store(url, read_models="sqlite:///read-models.db"):
            pass
    assert not (tmp_path / "events.db").exists()


@pytest.mark.parametrize("read_models", ["memory://", "nats://127.0.0.1:4222/other"])
async def test_a_read_model_database_without_transactions_is_refused(
    read_models: str, nats_server: NatsServer
) -> None:
    with pytest.raises(ConfigurationError, match="must be SQLite or PostgreSQL"):
        async with open_store(f"{nats_server.url}/unused", read_models=read_models):
            pass


async def test_split_store_wants_events_without_transactions_and_rows_with_them(
    tmp_path: Path, split: TransactionalStore
) -> None:
    async with SQLiteEventStore.open(tmp_path / "sql.db") as sql:
        with pytest.raises(ConfigurationError, match="needs no read-model database"):
            SplitStore(events=sql, read_models=sql)
        with pytest.raises(ConfigurationError, match="needs transactions"):
            SplitStore(events=InMemoryEventStore(), read_models=InMemoryEventStore())  # type: ignore[arg-type]


# -- transactions ----------------------------------------------------------------------------


async def test_an_append_inside_a_transaction_is_refused_and_its_rows_roll_back(
    split: TransactionalStore,
) -> None:
    async def move_then_append() -> None:
        async with split.transaction() as tx:
            await tx.checkpoints.advance("probe", expected=0, to=7)
            await tx.append("cart-1", [added()], expected_version=NO_STREAM)

    with pytest.raises(ConfigurationError, match="apart from the read models"):
        await move_then_append()
    assert (await split.committed.checkpoints.get("probe")).position == 0
    assert await split.read_stream("cart-1") == []


async def test_reads_inside_a_transaction_see_the_committed_log(
    split: TransactionalStore,
) -> None:
    result = await split.append("cart-1", [added("a"), added("b")], expected_version=NO_STREAM)
    async with split.transaction() as tx:
        page = await tx.read_page(after=0, limit=10)
        stream = await tx.read_stream("cart-1", from_version=2)
    assert [e.position for e in page.events] == [result.position - 1, result.position]
    assert page.head == result.position
    assert [e.data["item"] for e in stream] == ["b"]


async def test_inline_projections_and_synchronous_reactors_are_refused_when_made(
    split: TransactionalStore,
) -> None:
    with pytest.raises(ConfigurationError, match="inline projections need a store that appends"):
        InlineProjections(split, [WalletsById()])
    with pytest.raises(ConfigurationError, match="synchronous reactors need a store that appends"):
        with_reactors(split, [])


# -- projections -----------------------------------------------------------------------------


async def test_projections_and_rebuilds_read_jetstream_and_write_the_read_model_database(
    split: TransactionalStore,
) -> None:
    handler = build_handler(split)
    for n in range(5):
        await handler.handle(open_wallet(f"w-{n}", balance=10 * n))
        await handler.handle(Deposit(aggregate_id=f"w-{n}", amount=n + 1, payment_id=f"p-{n}"))
    runner = ProjectionRunner(split, [WalletsById()], batch_size=3, leases=False)
    await runner.prepare()
    await runner.catch_up()
    expected = await fold_wallets(split)
    assert await wallet_documents(split) == expected
    assert (await split.committed.checkpoints.get(WalletsById.name)).position == (
        await split.last_position()
    )

    # a rebuild catches up in the swap's transaction: through tx.read_page
    result = await rebuild(split, WalletsById(), batch_size=4)
    assert result.events == 10
    assert await wallet_documents(split) == expected
    assert len(await WALLETS.all(split)) == 5


# -- the read-model contracts, through the split store ----------------------------------------


class _OnSplitStore:
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return split_store(request.getfixturevalue("nats_server"), tmp_path)


class TestSplitStoreDocuments(_OnSplitStore, DocumentContract):
    pass


class TestSplitStoreQueue(_OnSplitStore, QueueContract):
    pass


class TestSplitStoreSagas(_OnSplitStore, SagaContract):
    pass


class TestSplitStoreLeases(_OnSplitStore, LeaseContract):
    pass
