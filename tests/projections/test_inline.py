"""Inline projections: updated in the append's transaction, visible right after a command."""

from __future__ import annotations

import pytest

from eskit.errors import ConcurrencyError
from eskit.projections import Projection, ProjectionContext, handles
from eskit.projections.inline import InlineProjections
from eskit.projections.rebuild import rebuild
from eskit.store import EventStoreBackend
from tests.projections.support import open_wallet
from tests.wallets.domain import Deposit, Deposited, InsufficientFundsError, Withdraw, build_handler
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


async def test_query_right_after_command_sees_it(sql_store: EventStoreBackend) -> None:
    inline = InlineProjections(sql_store, [WalletsById()])
    await inline.prepare()
    handler = build_handler(inline)
    await handler.handle(open_wallet("a"))
    await handler.handle(Deposit(aggregate_id="a", amount=5, payment_id="p"))
    doc = await WALLETS.get(inline, "a")
    assert doc is not None
    assert doc.body["balance"] == 105
    assert doc.body["version"] == 2
    with pytest.raises(InsufficientFundsError):
        await handler.handle(Withdraw(aggregate_id="a", amount=500, payment_id="q"))
    doc = await WALLETS.get(inline, "a")
    assert doc is not None
    assert doc.body["balance"] == 105


class _Refuses(Projection):
    name = "refuses_big_deposits"

    @handles(Deposited)
    async def deposited(self, event: Deposited, ctx: ProjectionContext) -> None:
        if event.amount > 1000:
            raise ValueError("too big for the read model")


async def test_failing_inline_handler_refuses_the_append(sql_store: EventStoreBackend) -> None:
    inline = InlineProjections(sql_store, [WalletsById(), _Refuses()])
    await inline.prepare()
    handler = build_handler(inline)
    await handler.handle(open_wallet("b"))
    with pytest.raises(ValueError, match="too big"):
        await handler.handle(Deposit(aggregate_id="b", amount=5000, payment_id="big"))
    assert await sql_store.stream_version("b") == 1
    doc = await WALLETS.get(inline, "b")
    assert doc is not None
    assert doc.body["balance"] == 100


async def test_conflict_rolls_back_read_model(sql_store: EventStoreBackend) -> None:
    inline = InlineProjections(sql_store, [WalletsById()])
    await inline.prepare()
    handler = build_handler(inline)
    await handler.handle(open_wallet("c"))
    with pytest.raises(ConcurrencyError):
        await inline.append(
            "c",
            [Deposited(amount=1, payment_id="x")],
            expected_version=0,
            stream_type="Wallet",
        )
    doc = await WALLETS.get(inline, "c")
    assert doc is not None
    assert doc.body["version"] == 1


async def test_retried_command_is_not_applied_twice(sql_store: EventStoreBackend) -> None:
    inline = InlineProjections(sql_store, [WalletsById()])
    await inline.prepare()
    handler = build_handler(inline)
    await handler.handle(open_wallet("d"))
    deposit = Deposit(aggregate_id="d", amount=7, payment_id="once")
    await handler.handle(deposit)
    await handler.handle(deposit)
    doc = await WALLETS.get(inline, "d")
    assert doc is not None
    assert doc.body["balance"] == 107


async def test_rebuild_of_inline_projection(sql_store: EventStoreBackend) -> None:
    inline = InlineProjections(sql_store, [WalletsById()])
    await inline.prepare()
    handler = build_handler(inline)
    for i in range(30):
        await handler.handle(open_wallet(f"r{i}", balance=i))
    before = await WALLETS.all(inline)
    result = await rebuild(sql_store, WalletsById(), batch_size=7, inline=True)
    assert result.events == 30
    after = await WALLETS.all(inline)
    assert {k: v["balance"] for k, v in after.items()} == {
        k: v["balance"] for k, v in before.items()
    }
    await handler.handle(Deposit(aggregate_id="r1", amount=1, payment_id="z"))
    doc = await WALLETS.get(inline, "r1")
    assert doc is not None
    assert doc.body["balance"] == 2


async def test_inline_and_async_projections_side_by_side(sql_store: EventStoreBackend) -> None:
    from eskit.projections import ProjectionRunner
    from tests.wallets.projections import WALLET_SEARCH, WalletSearch

    inline = InlineProjections(sql_store, [WalletsById()])
    await inline.prepare()
    handler = build_handler(inline)
    async with ProjectionRunner(inline, [WalletSearch()]) as runner:
        done = await handler.handle(open_wallet("side"))
        assert await WALLETS.get(inline, "side") is not None  # inline: at once
        await runner.wait_for(done.position)
        page = await WALLET_SEARCH.search(runner.store, "ada")
        assert [e["wallet_id"] for e in page.items] == ["side"]
