"""The command queue: refused at the door or queued, handled by workers, each outcome
recorded; transient failures retried with backoff, dead-lettered after N attempts;
commands a dead worker held taken over once its lease ends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from eskit.app import CommandHandler, Repository
from eskit.domain import Command
from eskit.errors import (
    IdempotencyKeyReusedError,
    InvalidCommandError,
    QueueFullError,
    StoreUnavailableError,
    UnknownCommandTypeError,
)
from eskit.process import CommandDispatcher, CommandQueue, ManualClock, QueueWorker
from eskit.store import EventStoreBackend, TransactionalStore, require_transactions
from tests.wallets.domain import Deposit, OpenWallet, Wallet, Withdraw, build_handler, registry

pytestmark = pytest.mark.integration


class Flaky(Command):
    """Fails ``failures`` times for reasons not its own, then deposits."""

    failures: int
    amount: int = 1


def dispatcher_for(store: EventStoreBackend) -> CommandDispatcher:
    wallets = build_handler(store)
    flaky: CommandHandler[Wallet] = CommandHandler(Repository(store, Wallet, registry))
    attempts: dict[uuid.UUID, int] = {}

    @flaky.updates(Flaky)
    def deposit_after_failures(wallet: Wallet, command: Flaky) -> None:
        attempts[command.command_id] = attempts.get(command.command_id, 0) + 1
        if attempts[command.command_id] <= command.failures:
            raise StoreUnavailableError("the store went away for a moment")
        wallet.deposit(command.amount, str(command.command_id))

    return CommandDispatcher.of([wallets, flaky])


@pytest.fixture
def db(sql_store: EventStoreBackend) -> TransactionalStore:
    return require_transactions(sql_store, "the command queue")


def setup(
    db: TransactionalStore, *, max_waiting: int = 10_000, max_attempts: int = 3
) -> tuple[CommandQueue, QueueWorker, ManualClock]:
    clock = ManualClock()
    dispatcher = dispatcher_for(db)
    queue = CommandQueue(db, dispatcher, max_waiting=max_waiting, clock=clock, depth_ttl_s=0)
    worker = QueueWorker(
        db, dispatcher, clock=clock, max_attempts=max_attempts, backoff_s=1.0, lease_s=30
    )
    return queue, worker, clock


async def opened(queue: CommandQueue, worker: QueueWorker, balance: int = 100) -> str:
    receipt = await queue.submit(OpenWallet(owner="ann", balance=balance))
    await worker.drain()
    return receipt.aggregate_id


async def test_a_queued_command_is_done_with_its_version_and_position(
    db: TransactionalStore,
) -> None:
    queue, worker, _ = setup(db)
    wallet = await opened(queue, worker)

    receipt = await queue.submit(Deposit(aggregate_id=wallet, amount=5, payment_id="p-1"))
    assert (await queue.status(receipt.command_id)).status == "queued"
    await worker.drain()

    done = await queue.status(receipt.command_id)
    assert done.status == "done"
    assert done.outcome is not None
    assert done.outcome["version"] == 2
    assert done.outcome["position"] == await db.last_position()
    assert done.attempts == 1


async def test_a_command_a_rule_refuses_records_the_typed_error_and_is_not_retried(
    db: TransactionalStore,
) -> None:
    queue, worker, clock = setup(db)
    wallet = await opened(queue, worker, balance=10)

    receipt = await queue.submit(Withdraw(aggregate_id=wallet, amount=50, payment_id="w-1"))
    await worker.drain()
    clock.advance(timedelta(hours=1))
    await worker.drain()

    refused = await queue.status(receipt.command_id)
    assert refused.status == "refused"
    assert refused.attempts == 1
    assert refused.outcome is not None
    assert refused.outcome["error"]["code"] == "insufficient_funds"
    assert await db.stream_version(wallet) == 1


async def test_a_command_for_a_missing_aggregate_is_refused_as_not_found(
    db: TransactionalStore,
) -> None:
    queue, worker, _ = setup(db)

    receipt = await queue.submit(Deposit(aggregate_id="nobody", amount=5, payment_id="p"))
    await worker.drain()

    refused = await queue.status(receipt.command_id)
    assert refused.status == "refused"
    assert refused.outcome is not None
    assert refused.outcome["error"]["code"] == "not_found"


async def test_an_unknown_command_type_is_refused_at_the_door_and_never_queued(
    db: TransactionalStore,
) -> None:
    queue, _, clock = setup(db)

    with pytest.raises(UnknownCommandTypeError, match=r"'Transfer'.*Deposit"):
        await queue.submit_raw("Transfer", {"aggregate_id": "w", "amount": 1})

    assert (await db.committed.queue.depth(clock.now())).ready == 0


async def test_a_malformed_command_is_refused_at_the_door_naming_its_fields(
    db: TransactionalStore,
) -> None:
    queue, _, clock = setup(db)

    with pytest.raises(InvalidCommandError) as refused:
        await queue.submit_raw("Deposit", {"aggregate_id": "w", "amount": -1})

    assert {tuple(e["loc"]) for e in refused.value.errors} == {("amount",), ("payment_id",)}
    assert (await db.committed.queue.depth(clock.now())).ready == 0


async def test_a_full_queue_refuses_more_with_a_time_to_retry_and_queues_nothing(
    db: TransactionalStore,
) -> None:
    queue, worker, clock = setup(db, max_waiting=2)
    for n in range(2):
        await queue.submit(OpenWallet(owner=f"owner-{n}"))

    with pytest.raises(QueueFullError) as full:
        await queue.submit(OpenWallet(owner="one too many"))

    assert full.value.retry_after_s > 0
    assert (await db.committed.queue.depth(clock.now())).ready == 2
    await worker.drain()
    await queue.submit(OpenWallet(owner="room again"))


async def test_submitting_a_command_id_twice_queues_it_once_and_answers_the_same_receipt(
    db: TransactionalStore,
) -> None:
    queue, worker, _ = setup(db)
    command = OpenWallet(owner="ann")
    first = await queue.submit(command)

    again = await queue.submit(command.model_copy(update={"aggregate_id": "another-id"}))

    assert again == first
    await worker.drain()
    assert len(await db.committed.queue.list()) == 1


async def test_a_transient_failure_is_retried_after_a_backoff_then_done(
    db: TransactionalStore,
) -> None:
    queue, worker, clock = setup(db)
    wallet = await opened(queue, worker)
    receipt = await queue.submit(Flaky(aggregate_id=wallet, failures=2))

    await worker.drain()
    waiting = await queue.status(receipt.command_id)
    assert (waiting.status, waiting.attempts) == ("queued", 1)
    assert waiting.error is not None
    assert "went away" in waiting.error
    assert waiting.available_at > clock.now()  # backing off

    for _ in range(2):
        clock.advance(timedelta(seconds=10))
        await worker.drain()

    done = await queue.status(receipt.command_id)
    assert (done.status, done.attempts) == ("done", 3)
    assert await db.stream_version(wallet) == 2


async def test_a_command_failing_every_attempt_is_dead_lettered_with_its_last_error(
    db: TransactionalStore,
) -> None:
    queue, worker, clock = setup(db, max_attempts=3)
    wallet = await opened(queue, worker)
    receipt = await queue.submit(Flaky(aggregate_id=wallet, failures=99))

    for _ in range(5):
        await worker.drain()
        clock.advance(timedelta(minutes=1))

    dead = await queue.status(receipt.command_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert dead.outcome is not None
    assert dead.outcome["error"]["code"] == "store_unavailable"
    assert await db.stream_version(wallet) == 1


async def test_a_command_held_by_a_dead_worker_is_taken_over_when_its_lease_ends(
    db: TransactionalStore,
) -> None:
    queue, worker, clock = setup(db)
    wallet = await opened(queue, worker)
    receipt = await queue.submit(Deposit(aggregate_id=wallet, amount=7, payment_id="p-7"))
    async with db.transaction() as tx:  # a worker claims it, handles it, and dies unrecorded
        [held] = await tx.queue.claim(now=clock.now(), limit=10, lease_s=30)
    first = await queue.dispatcher.handle(queue.dispatcher.parse(held.command_type, held.payload))

    await worker.drain()
    assert (await queue.status(receipt.command_id)).status == "running"  # the lease holds

    clock.advance(timedelta(seconds=31))
    await worker.drain()

    taken_over = await queue.status(receipt.command_id)
    assert (taken_over.status, taken_over.attempts) == ("done", 2)
    assert taken_over.outcome is not None
    assert taken_over.outcome["version"] == first.version
    assert taken_over.outcome["deduplicated"] is True
    assert await db.stream_version(wallet) == 2  # applied once


async def test_concurrent_workers_handle_every_command_exactly_once(
    db: TransactionalStore,
) -> None:
    queue, _, clock = setup(db)
    dispatcher = queue.dispatcher
    wallets = [await queue.submit(OpenWallet(owner=f"o-{n}")) for n in range(10)]
    await QueueWorker(db, dispatcher, clock=clock).drain()
    receipts = [
        await queue.submit(Deposit(aggregate_id=w.aggregate_id, amount=1, payment_id=f"p-{n}"))
        for n in range(20)
        for w in wallets
    ]
    workers = [QueueWorker(db, dispatcher, clock=clock, batch_size=8) for _ in range(4)]

    await asyncio.gather(*(w.drain() for w in workers))

    assert sum(w.counters.done for w in workers) == len(receipts)
    statuses = {(await queue.status(r.command_id)).status for r in receipts}
    assert statuses == {"done"}
    for w in wallets:
        assert await db.stream_version(w.aggregate_id) == 21


async def test_a_running_worker_picks_up_a_command_queued_in_its_process_at_once(
    db: TransactionalStore,
) -> None:
    queue, _, _ = setup(db)
    queue.clock = worker_clock = ManualClock()
    worker = QueueWorker(db, queue.dispatcher, clock=worker_clock, wake=queue.wake)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        receipt = await queue.submit(OpenWallet(owner="ann"))
        done = await queue.wait(receipt.command_id, timeout_s=2.0)
    finally:
        stop.set()
        await running
    assert done.status == "done"


async def test_a_command_id_queued_again_for_another_command_is_refused(
    db: TransactionalStore,
) -> None:
    queue, _, _ = setup(db)
    first = Deposit(aggregate_id="w", amount=5, payment_id="p-1")
    await queue.submit(first)

    with pytest.raises(IdempotencyKeyReusedError):
        await queue.submit(first.model_copy(update={"amount": 6}))

    assert len(await db.committed.queue.list()) == 1


async def test_a_full_queue_still_answers_a_retry_of_a_command_it_holds(
    db: TransactionalStore,
) -> None:
    queue, _, _ = setup(db, max_waiting=1)
    command = OpenWallet(owner="ann")
    first = await queue.submit(command)

    again = await queue.submit(command)

    assert again == first
