"""The command handler's aggregate cache, the same on every adapter.

Two handlers over one store stand for two processes of a service: each has a cache of its
own, and neither may act on a state the other has moved past.
"""

import asyncio
from typing import Any

import pytest

from eskit.app import CommandHandler, Repository
from eskit.domain import Aggregate, Command, Event, applies
from eskit.store import EventStoreBackend
from tests.wallets.domain import (
    Deposit,
    InsufficientFundsError,
    OpenWallet,
    Wallet,
    Withdraw,
    build_handler,
)

pytestmark = pytest.mark.integration


async def opened(handler: CommandHandler[Wallet], balance: int = 0) -> str:
    command = OpenWallet(owner="Cy", balance=balance)
    return (await handler.handle(command)).aggregate_id


def deposit(wallet_id: str, amount: int, payment_id: str) -> Deposit:
    return Deposit(aggregate_id=wallet_id, amount=amount, payment_id=payment_id)


def withdraw(wallet_id: str, amount: int, payment_id: str) -> Withdraw:
    return Withdraw(aggregate_id=wallet_id, amount=amount, payment_id=payment_id)


async def stored_balance(store: EventStoreBackend, wallet_id: str) -> int:
    return (await build_handler(store, cache_size=0).repository.load(wallet_id)).balance


def counted_loads(handler: CommandHandler[Wallet], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the aggregates ``handler`` loads whole from now on."""
    loads: list[str] = []
    load = handler.repository.load

    async def counting(aggregate_id: str, **kwargs: Any) -> Wallet:
        loads.append(aggregate_id)
        return await load(aggregate_id, **kwargs)

    monkeypatch.setattr(handler.repository, "load", counting)
    return loads


async def test_a_command_on_a_cached_aggregate_does_not_read_the_store(
    store: EventStoreBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler)
    loads = counted_loads(handler, monkeypatch)
    for n in range(5):
        await handler.handle(deposit(wallet_id, 10, f"p{n}"))

    assert loads == []
    assert await stored_balance(store, wallet_id) == 50


async def test_a_stale_cached_aggregate_is_caught_by_the_version_check(
    store: EventStoreBackend,
) -> None:
    one, two = build_handler(store), build_handler(store)
    wallet_id = await opened(one)
    await one.handle(deposit(wallet_id, 10, "a"))  # one caches version 2
    await two.handle(deposit(wallet_id, 20, "b"))  # the stream moves to version 3

    result = await one.handle(deposit(wallet_id, 30, "c"))

    assert result.version == 4
    assert await stored_balance(store, wallet_id) == 60


async def test_a_refusal_never_rests_on_a_stale_cached_aggregate(
    store: EventStoreBackend,
) -> None:
    one, two = build_handler(store), build_handler(store)
    wallet_id = await opened(one)  # one caches a balance of 0
    await two.handle(deposit(wallet_id, 100, "d"))

    result = await one.handle(withdraw(wallet_id, 60, "w"))

    assert result.version == 3
    assert await stored_balance(store, wallet_id) == 40


async def test_a_refused_command_leaves_no_trace_in_the_cache(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler, 50)
    with pytest.raises(InsufficientFundsError):
        await handler.handle(withdraw(wallet_id, 80, "w1"))

    result = await handler.handle(withdraw(wallet_id, 50, "w2"))

    assert result.version == 2
    assert await stored_balance(store, wallet_id) == 0


async def test_a_repeated_command_does_not_apply_twice_to_a_cached_aggregate(
    store: EventStoreBackend,
) -> None:
    one, two = build_handler(store), build_handler(store)
    wallet_id = await opened(one)  # one caches version 1
    command = deposit(wallet_id, 100, "p")
    await two.handle(command)

    again = await one.handle(command)  # decided on the stale copy: its events are stored
    after = await one.handle(deposit(wallet_id, 5, "q"))

    assert (again.deduplicated, again.version) == (True, 2)
    assert after.version == 3
    assert await stored_balance(store, wallet_id) == 105


class Added(Event):
    n: int


class Counter(Aggregate):
    """Unlike a wallet it keeps no ids of what it was told: only event ids catch repeats."""

    total: int = 0

    @applies(Added)
    def _added(self, event: Added) -> None:
        self.total += event.n


class Add(Command):
    n: int


async def test_a_repeat_caught_by_event_ids_leaves_no_wrong_state_behind(
    store: EventStoreBackend,
) -> None:
    handler: CommandHandler[Counter] = CommandHandler(Repository(store, Counter))

    @handler.updates(Add)
    def add(counter: Counter, command: Add) -> None:
        counter.record(Added(n=command.n))

    await store.append("c-1", [Added(n=1)], expected_version=0, stream_type="Counter")
    command = Add(aggregate_id="c-1", n=10)
    await handler.handle(command)  # cached at version 2, total 11
    again = await handler.handle(command)  # decided again: its events are already stored

    after = await handler.handle(Add(aggregate_id="c-1", n=100))

    assert again.deduplicated
    assert after.version == 3
    assert (await Repository(store, Counter).load("c-1")).total == 111
    assert (await handler.repository.load("c-1")).total == 111


async def test_two_cached_handlers_racing_on_one_account_lose_nothing(
    store: EventStoreBackend,
) -> None:
    handlers = [build_handler(store), build_handler(store)]
    for handler in handlers:
        handler.max_attempts = 100
    wallet_id = await opened(handlers[0])

    await asyncio.gather(
        *(handlers[n % 2].handle(deposit(wallet_id, 1, f"p{n}")) for n in range(40))
    )

    assert await stored_balance(store, wallet_id) == 40
    assert await store.stream_version(wallet_id) == 41


async def test_the_cache_keeps_at_most_its_size(store: EventStoreBackend) -> None:
    handler = build_handler(store, cache_size=3)
    ids = [await opened(handler) for _ in range(5)]
    for n, wallet_id in enumerate(ids):
        await handler.handle(deposit(wallet_id, 1, f"p{n}"))

    assert len(handler.cache) == 3
    assert [await stored_balance(store, i) for i in ids] == [1] * 5


async def test_a_handler_without_cache_keeps_nothing(store: EventStoreBackend) -> None:
    handler = build_handler(store, cache_size=0)
    wallet_id = await opened(handler)
    await handler.handle(deposit(wallet_id, 1, "p"))

    assert len(handler.cache) == 0


async def test_once_others_write_cached_aggregates_catch_up_instead_of_conflicting(
    store: EventStoreBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = build_handler(store), build_handler(store)
    wallet_id = await opened(one)
    await two.handle(deposit(wallet_id, 1, "a"))
    assert not one.cache.needs_catching_up
    await one.handle(deposit(wallet_id, 2, "b"))  # stale: conflict, loaded whole
    assert one.cache.needs_catching_up
    await two.handle(deposit(wallet_id, 4, "c"))
    loads = counted_loads(one, monkeypatch)

    result = await one.handle(withdraw(wallet_id, 7, "d"))  # needs c's money: caught up

    assert loads == []
    assert result.version == 5
    assert await stored_balance(store, wallet_id) == 0


async def test_catching_up_refuses_an_aggregate_with_pending_events(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler)
    wallet = await handler.repository.load(wallet_id)
    wallet.deposit(5, "p")

    with pytest.raises(ValueError, match="pending"):
        await handler.repository.catch_up(wallet)
