"""The whole store contract on a store wrapped in inline projections (SQLite, PostgreSQL).

The wrapper passes every call through but its appends, which run the inline projections
in the same transaction; with a projection that handles the contract's own events, every
append of the contract goes through that path.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from eskit.projections import (
    DocumentCollection,
    InlineProjections,
    Projection,
    ProjectionContext,
    handles,
)
from eskit.store import EventStoreBackend, SQLiteEventStore
from eskit.testing.contract import TransactionalStoreContract
from eskit.testing.contract._events import ItemAdded

pytestmark = pytest.mark.integration

SEEN = DocumentCollection("contract_items_seen")


class ItemsSeen(Projection):
    """Counts each stream's ItemAdded events, inline."""

    name = "contract_items_seen"
    read_models = (SEEN,)

    @handles(ItemAdded)
    async def added(self, event: ItemAdded, ctx: ProjectionContext) -> None:
        writer = ctx.writer(SEEN)
        seen = await writer.get(ctx.event.stream_id) or {"items": 0}
        await writer.put(ctx.event.stream_id, {"items": seen["items"] + 1})


@asynccontextmanager
async def inline(
    store: AbstractAsyncContextManager[EventStoreBackend],
) -> AsyncIterator[EventStoreBackend]:
    async with store as inner:
        wrapped = InlineProjections(inner, [ItemsSeen()])
        await wrapped.prepare()
        yield wrapped


class TestInlineOnSQLite(TransactionalStoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        return inline(SQLiteEventStore.open(tmp_path / "events.db"))


class TestInlineOnPostgres(TransactionalStoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        from eskit.store.postgres import PostgresEventStore

        return inline(PostgresEventStore.open(request.getfixturevalue("postgres_url")))


async def test_the_inline_read_model_counts_every_item_appended(tmp_path: Path) -> None:
    async with inline(SQLiteEventStore.open(tmp_path / "events.db")) as store:
        await store.append("cart-1", [ItemAdded(item="a"), ItemAdded(item="b")], expected_version=0)
        assert isinstance(store, InlineProjections)
        async with store.transaction() as tx:
            await tx.append("cart-2", [ItemAdded(item="c")], expected_version=0)
        assert (await SEEN.all(store)) == {"cart-1": {"items": 2}, "cart-2": {"items": 1}}
