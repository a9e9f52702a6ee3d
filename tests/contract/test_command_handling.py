"""Command handling, the same on every adapter."""

import asyncio

import pytest

from bank_accounts import (
    BankAccount,
    DepositMoney,
    InsufficientFundsError,
    OpenAccount,
    WithdrawMoney,
    build_handler,
)
from eskit.app import CommandHandler
from eskit.errors import ConcurrencyError, InvalidCommandError, NotFoundError
from eskit.store import EventStoreBackend

pytestmark = pytest.mark.integration


def open_command(balance: int = 0) -> OpenAccount:
    return OpenAccount(email="h@example.com", first_name="H", last_name="K", balance=balance)


async def opened(handler: CommandHandler[BankAccount], balance: int = 0) -> str:
    return (await handler.handle(open_command(balance))).aggregate_id


async def test_a_command_handled_twice_appends_once(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    account_id = await opened(handler, 100)
    command = WithdrawMoney(aggregate_id=account_id, amount=100, payment_id="w")
    first = await handler.handle(command)
    again = await handler.handle(command)
    assert (again.version, again.position) == (first.version, first.position)
    assert (await handler.repository.load(account_id)).balance == 0


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
    account_id = await opened(handler)
    paid = await handler.handle(DepositMoney(aggregate_id=account_id, amount=5, payment_id="p"))
    repeat = DepositMoney(aggregate_id=account_id, amount=5, payment_id="p")
    first = await handler.handle(repeat, fingerprint="f-1")
    await handler.handle(DepositMoney(aggregate_id=account_id, amount=7, payment_id="q"))

    again = await handler.handle(repeat, fingerprint="f-2")

    assert (first.version, first.position, first.deduplicated) == (2, paid.position, False)
    assert (again.version, again.position, again.deduplicated) == (2, paid.position, True)
    assert again.fingerprint == "f-1"
    assert (await handler.repository.load(account_id)).balance == 12


async def test_a_replayed_command_that_recorded_events_carries_its_first_fingerprint(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    account_id = await opened(handler)
    command = DepositMoney(aggregate_id=account_id, amount=5, payment_id="p")
    first = await handler.handle(command, fingerprint="f-1")

    again = await handler.handle(command, fingerprint="f-2")

    assert (first.deduplicated, first.fingerprint) == (False, None)
    assert (again.version, again.deduplicated, again.fingerprint) == (2, True, "f-1")


async def test_opening_an_existing_account_with_a_new_command_is_a_conflict(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    account_id = await opened(handler)
    with pytest.raises(ConcurrencyError):
        await handler.handle(
            OpenAccount(
                aggregate_id=account_id, email="x@example.com", first_name="X", last_name="Y"
            )
        )


async def test_concurrent_commands_on_one_aggregate_retry_until_all_apply(
    store: EventStoreBackend,
) -> None:
    handler = build_handler(store)
    handler.max_attempts = 100
    account_id = await opened(handler)
    await asyncio.gather(
        *(
            handler.handle(DepositMoney(aggregate_id=account_id, amount=1, payment_id=f"d{n}"))
            for n in range(16)
        )
    )
    account = await handler.repository.load(account_id)
    assert account.balance == 16
    assert account.version == 17


async def test_retries_are_bounded(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    handler.max_attempts = 1
    account_id = await opened(handler)
    results = await asyncio.gather(
        *(
            handler.handle(DepositMoney(aggregate_id=account_id, amount=1, payment_id=f"d{n}"))
            for n in range(8)
        ),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, ConcurrencyError)]
    applied = len(results) - len(conflicts)
    assert applied >= 1
    assert (await handler.repository.load(account_id)).balance == applied


async def test_a_broken_rule_raises_and_writes_nothing(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    account_id = await opened(handler, 10)
    before = await store.last_position()
    with pytest.raises(InsufficientFundsError):
        await handler.handle(WithdrawMoney(aggregate_id=account_id, amount=11, payment_id="w"))
    assert await store.last_position() == before


async def test_a_command_on_a_missing_aggregate_raises_not_found(store: EventStoreBackend) -> None:
    handler = build_handler(store)
    with pytest.raises(NotFoundError):
        await handler.handle(DepositMoney(aggregate_id="missing", amount=1, payment_id="p"))


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
        DepositMoney.parse({"aggregate_id": "a", "amount": 1.5})
    fields = {tuple(e["loc"]) for e in caught.value.errors}
    assert fields == {("amount",), ("payment_id",)}


def test_malformed_json_is_an_invalid_command() -> None:
    with pytest.raises(InvalidCommandError):
        DepositMoney.parse(b'{"amount": ')
