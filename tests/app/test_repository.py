"""Repository behaviour, the same on every adapter."""

import asyncio
from datetime import UTC, datetime

import pytest

from eskit.app import Repository
from eskit.errors import ConcurrencyError, NotFoundError, UnknownEventTypeError
from eskit.store import ANY, EventStoreBackend, Snapshot
from tests.wallets.domain import Wallet, registry

pytestmark = pytest.mark.integration


def opened(wallet_id: str = "acc-1", balance: int = 100) -> Wallet:
    return Wallet.open(wallet_id, owner="Ada", balance=balance)


async def saved_with_deposits(repo: Repository[Wallet], deposits: int) -> Wallet:
    wallet = opened()
    for n in range(deposits):
        wallet.deposit(10, f"p{n}")
    await repo.save(wallet)
    return wallet


async def test_load_returns_the_state_folded_from_the_events(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry)
    await saved_with_deposits(repo, 3)
    wallet = await repo.load("acc-1")
    assert wallet.balance == 130
    assert wallet.version == 4
    assert wallet.pending_events == ()


async def test_loading_a_missing_aggregate_raises_not_found(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry)
    with pytest.raises(NotFoundError, match="nope"):
        await repo.load("nope")


async def test_saving_a_stale_aggregate_raises_and_writes_nothing(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry)
    await saved_with_deposits(repo, 0)
    first, second = await repo.load("acc-1"), await repo.load("acc-1")
    first.deposit(5, "x")
    await repo.save(first)
    second.deposit(7, "y")
    with pytest.raises(ConcurrencyError):
        await repo.save(second)
    assert (await repo.load("acc-1")).balance == 105


async def test_a_snapshot_is_stored_every_n_events(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry, snapshot_every=5)
    await saved_with_deposits(repo, 11)
    snapshot = await store.load_snapshot("acc-1")
    assert snapshot is not None
    assert snapshot.version == 12
    assert snapshot.state["balance"] == 210


async def test_snapshot_load_equals_full_replay(store: EventStoreBackend) -> None:
    with_snapshots = Repository(store, Wallet, registry, snapshot_every=4)
    wallet = await saved_with_deposits(with_snapshots, 9)
    wallet.deposit(1, "last")
    await with_snapshots.save(wallet)
    replayed = await Repository(store, Wallet, registry).load("acc-1")
    assert (await with_snapshots.load("acc-1")).model_dump() == replayed.model_dump()


async def test_a_snapshot_of_an_outdated_schema_is_ignored(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry, snapshot_every=100)
    await saved_with_deposits(repo, 2)
    stale = Snapshot("acc-1", "Wallet", 3, 0, {"balance": 999_999})
    await store.save_snapshot(stale)
    assert (await repo.load("acc-1")).balance == 120


async def test_time_travel_by_version(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry, snapshot_every=2)
    await saved_with_deposits(repo, 5)
    assert (await repo.load("acc-1", at_version=1)).balance == 100
    assert (await repo.load("acc-1", at_version=3)).balance == 120
    with pytest.raises(NotFoundError, match="version 7 does not exist"):
        await repo.load("acc-1", at_version=7)
    with pytest.raises(NotFoundError):
        await repo.load("acc-1", at_version=0)


async def test_time_travel_by_time(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry)
    before = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await saved_with_deposits(repo, 1)
    await asyncio.sleep(0.01)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    wallet = await repo.load("acc-1")
    wallet.deposit(1000, "later")
    await repo.save(wallet)
    assert (await repo.load("acc-1", as_of=middle)).balance == 110
    with pytest.raises(NotFoundError, match="nothing recorded"):
        await repo.load("acc-1", as_of=before)


async def test_history_lists_every_event_with_its_record(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry)
    await saved_with_deposits(repo, 2)
    history = await repo.history("acc-1")
    assert [h.record.version for h in history] == [1, 2, 3]
    assert [type(h.event).__name__ for h in history] == [
        "WalletOpened",
        "Deposited",
        "Deposited",
    ]


async def test_an_unknown_event_type_in_a_stream_fails_loudly(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry)
    await saved_with_deposits(repo, 0)
    from eskit.domain import Event

    class Mystery(Event):
        event_type = "wallets.Mystery"

    result = await store.append("acc-1", [Mystery()], expected_version=ANY)
    with pytest.raises(UnknownEventTypeError) as caught:
        await repo.load("acc-1")
    assert caught.value.event_type == "wallets.Mystery"
    assert caught.value.position == result.position


async def test_snapshots_can_be_turned_off(store: EventStoreBackend) -> None:
    repo = Repository(store, Wallet, registry, snapshot_every=2, snapshots=False)
    await saved_with_deposits(repo, 5)
    assert await store.load_snapshot("acc-1") is None
    assert (await repo.load("acc-1")).balance == 150


async def test_read_since_snapshot_returns_the_snapshot_and_the_later_events(
    store: EventStoreBackend,
) -> None:
    repo = Repository(store, Wallet, registry, snapshot_every=4)
    await saved_with_deposits(repo, 4)  # versions 1..5, crossing 4: a snapshot at 5
    wallet = await repo.load("acc-1")
    wallet.deposit(1, "later")
    await repo.save(wallet)

    snapshot, later = await store.read_since_snapshot("acc-1", schema_version=1)
    assert snapshot is not None
    assert snapshot.version == 5
    assert [e.version for e in later] == [6]

    outdated, everything = await store.read_since_snapshot("acc-1", schema_version=2)
    assert outdated is None
    assert [e.version for e in everything] == [1, 2, 3, 4, 5, 6]

    nothing, none = await store.read_since_snapshot("missing", schema_version=1)
    assert (nothing, none) == (None, [])
