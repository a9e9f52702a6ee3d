"""Events, writers and readers shared by the messaging tests."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

import orjson

from eskit.domain.events import Event
from eskit.domain.registry import EventRegistry
from eskit.messaging import Bus, Delivery
from eskit.messaging.consumer import Consumer, MessageContext
from eskit.store import ANY, StoredEvent, TransactionalStore
from eskit.store.rows import DocumentChanges


class Counted(Event):
    """One event of a numbered series, per writer."""

    event_type = "test.counted"

    writer: int
    seq: int


async def write(
    store: TransactionalStore, writer: int, count: int, *, streams: int = 3, pause_s: float = 0.0
) -> None:
    """``count`` events by ``writer``, spread over a few streams of its own, one per append
    (``pause_s`` apart: a load spread over time)."""
    for seq in range(count):
        if pause_s:
            await asyncio.sleep(pause_s)
        await store.append(
            f"w{writer}-s{seq % streams}",
            [Counted(writer=writer, seq=seq)],
            expected_version=ANY,
            stream_type="counter",
        )


async def log_of(store: TransactionalStore) -> list[StoredEvent]:
    """Every event of the store, in global order."""
    return [event async for event in store.read_all()]


class Runs(Protocol):
    """A relay or a consumer runner: runs until its stop event is set."""

    async def run(self, stop: asyncio.Event) -> None: ...


R = TypeVar("R", bound=Runs)


@asynccontextmanager
async def running(runner: R) -> AsyncIterator[R]:
    """``runner`` running in a task for the block, stopped after it."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    test = asyncio.current_task()

    def interrupt(done: asyncio.Task[None]) -> None:
        # a runner that dies must fail the test now, not after it waited out its timeouts
        if test is not None and not stop.is_set() and not done.cancelled() and done.exception():
            test.cancel()

    task.add_done_callback(interrupt)
    try:
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def drain(bus: Bus, group: str, expected: int, *, timeout_s: float = 60.0) -> list[Delivery]:
    """Everything ``group`` receives until ``expected`` distinct events arrived, acked."""
    received: list[Delivery] = []
    ids: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with bus.consumer(group, ["counter"]) as consumer:
        while len(ids) < expected and loop.time() < deadline:
            batch = await consumer.fetch(500, 1.0)
            received += batch
            ids |= {d.message_id for d in batch}
            if batch:
                await consumer.ack(batch)
    return received


def versions_by_stream(deliveries: Sequence[Delivery]) -> dict[str, list[int]]:
    """Each stream's versions in the order they were delivered, duplicates dropped."""
    seen: set[str] = set()
    order: dict[str, list[int]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.message_id in seen:
            continue
        seen.add(delivery.message_id)
        order[delivery.headers["eskit-stream-id"]].append(int(delivery.headers["eskit-version"]))
    return order


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    """Wait until ``check()`` holds; fail the test if it does not within ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        assert loop.time() < deadline, f"still not so after {timeout_s} s"
        await asyncio.sleep(0.05)


TOTALS = "consumer_totals"


async def applied(store: TransactionalStore, totals: str = TOTALS) -> dict[str, list[int]]:
    """The read model: each stream's applied sequence numbers, in the order applied."""
    docs = await store.committed.documents.all(totals)
    return {d.id: d.body["seqs"] for d in docs}


def counting(
    fail_on: set[int] | None = None, name: str | None = None, totals: str = TOTALS
) -> Consumer:
    """A consumer appending each event's ``seq`` to its stream's document in ``totals``."""

    async def on_counted(event: Event, ctx: MessageContext) -> None:
        assert isinstance(event, Counted)
        if fail_on is not None and event.seq in fail_on:
            raise RuntimeError(f"cannot take seq {event.seq}")
        docs = ctx.tx.documents
        stream = ctx.incoming.stream_id
        [found] = await docs.get_many(totals, [stream]) or [None]
        if found is None:
            await docs.write(
                "totals",
                totals,
                DocumentChanges(inserts=[(stream, orjson.dumps({"seqs": [event.seq]}).decode())]),
            )
            return
        body = {"seqs": [*found.body["seqs"], event.seq]}
        await docs.write(
            "totals",
            totals,
            DocumentChanges(updates=[(stream, found.version, orjson.dumps(body).decode())]),
        )

    return Consumer(
        name=name or f"totals-{uuid.uuid4().hex[:6]}",
        stream_types=["counter"],
        handlers={"test.counted": on_counted},
        registry=EventRegistry([Counted]),
        max_attempts=3,
        retry_backoff_s=0.01,
        batch_size=20,
    )
