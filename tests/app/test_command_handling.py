"""Command handling, the same on every adapter."""

import asyncio

import pytest

from eskit.app import CommandHandler
from eskit.errors import ConcurrencyError, InvalidCommandError, NotFoundError
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


def open_command(balance: int = 0) -> OpenWallet:
    return OpenWallet(owner="Hy", balance=balance)


async def opened(handler: CommandHandler[Wallet], balance: int = 0) -> str:
    return (await handler.handle(open_command(balance))).aggregate_id


async def test_a_command_handled_twice_appends_once(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler, 100)
    command = Withdraw(aggregate_id=wallet_id, amount=100, payment_id="w")
    first = await handler.handle(command)
    again = await handler.handle(command)
    assert (again.version, again.position) == (first.version, first.position)
    assert (await handler.repository.load(wallet_id)).balance == 0


async def test_a_repeated_create_command_answers_the_first_outcome(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    command = open_command(5)
    first = await handler.handle(command)
    again = await handler.handle(command)
    assert again.deduplicated
    assert (again.aggregate_id, again.version) == (first.aggregate_id, 1)


async def test_a_replayed_command_that_recorded_nothing_answers_its_first_outcome(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler)
    paid = await handler.handle(Deposit(aggregate_id=wallet_id, amount=5, payment_id="p"))
    repeat = Deposit(aggregate_id=wallet_id, amount=5, payment_id="p")
    first = await handler.handle(repeat, fingerprint="f-1")
    await handler.handle(Deposit(aggregate_id=wallet_id, amount=7, payment_id="q"))

    again = await handler.handle(repeat, fingerprint="f-2")

    assert (first.version, first.position, first.deduplicated) == (2, paid.position, False)
    assert (again.version, again.position, again.deduplicated) == (2, paid.position, True)
    assert again.fingerprint == "f-1"
    assert (await handler.repository.load(wallet_id)).balance == 12


async def test_a_replayed_command_that_recorded_events_carries_its_first_fingerprint(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler)
    command = Deposit(aggregate_id=wallet_id, amount=5, payment_id="p")
    first = await handler.handle(command, fingerprint="f-1")

    again = await handler.handle(command, fingerprint="f-2")

    assert (first.deduplicated, first.fingerprint) == (False, None)
    assert (again.version, again.deduplicated, again.fingerprint) == (2, True, "f-1")


async def test_opening_an_existing_account_with_a_new_command_is_a_conflict(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler)
    with pytest.raises(ConcurrencyError):
        await handler.handle(OpenWallet(aggregate_id=wallet_id, owner="Xavier"))


async def test_concurrent_commands_on_one_aggregate_retry_until_all_apply(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    handler.max_attempts = 100
    wallet_id = await opened(handler)
    await asyncio.gather(
        *(
            handler.handle(Deposit(aggregate_id=wallet_id, amount=1, payment_id=f"d{n}"))
            for n in range(16)
        )
    )
    wallet = await handler.repository.load(wallet_id)
    assert wallet.balance == 16
    assert wallet.version == 17


async def test_retries_are_bounded(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    handler.max_attempts = 1
    wallet_id = await opened(handler)
    results = await asyncio.gather(
        *(
            handler.handle(Deposit(aggregate_id=wallet_id, amount=1, payment_id=f"d{n}"))
            for n in range(8)
        ),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyError)]
    applied = len(results) - len(conflicts)
    assert applied >= 1
    assert (await handler.repository.load(wallet_id)).balance == applied


async def test_a_broken_rule_raises_and_writes_nothing(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    wallet_id = await opened(handler, 10)
    before = await store.last_position()
    with pytest.raises(InsufficientFundsError):
        await handler.handle(Withdraw(aggregate_id=wallet_id, amount=11, payment_id="w"))
    assert await store.last_position() == before


async def test_a_command_on_a_missing_aggregate_raises_not_found(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    with pytest.raises(NotFoundError):
        await handler.handle(Deposit(aggregate_id="missing", amount=1, payment_id="p"))


async def test_events_carry_causation_and_correlation_ids(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    command = open_command()
    await handler.handle(command, {"correlation_id": "req-1", "actor": "alice"})
    (event,) = await store.read_stream(command.aggregate_id)
    assert event.metadata["causation_id"] == str(command.command_id)
    assert event.metadata["correlation_id"] == "req-1"
    assert event.metadata["actor"] == "alice"


def test_a_malformed_command_lists_every_bad_field() -> None:
    with pytest.raises(InvalidCommandError) as caught:
        Deposit.parse({"aggregate_id": "a", "amount": 1.5})
    fields = {tuple(e["loc"]) for e in caught.value.errors}
    assert fields == {("amount",), ("payment_id",)}


def test_malformed_json_is_an_invalid_command() -> None:
    with pytest.raises(InvalidCommandError):
        Deposit.parse(b'{"amount": ')
