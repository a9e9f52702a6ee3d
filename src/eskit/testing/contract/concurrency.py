"""Concurrent writers and readers: no lost update, no missed event, no double write."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

from eskit.errors import ConcurrencyError
from eskit.store import ANY, NO_STREAM, STREAM_EXISTS, EventStoreBackend, StoredEvent
from eskit.testing.contract._events import Ticked, tick
from eskit.testing.contract.hooks import StoreUnderTest

__all__ = ["ConcurrencyContract"]

WRITERS = 16
DEADLINE_S = 30.0
T = TypeVar("T")


async def run_all(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``coros`` concurrently; the first failure cancels the rest and is raised as is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]


async def everything(store: EventStoreBackend) -> list[StoredEvent]:
    return [e async for e in store.read_all(batch_size=100)]


def _assert_each_writer_complete_and_in_order(events: list[StoredEvent], per_writer: int) -> None:
    by_writer: dict[int, list[int]] = {}
    for event in events:
        by_writer.setdefault(event.data["writer"], []).append(event.data["seq"])
    assert by_writer == {w: list(range(per_writer)) for w in range(WRITERS)}


class ConcurrencyContract(StoreUnderTest):
    """Many writers and readers at once on one store, within one event loop."""

    async def test_racing_writers_on_one_stream_get_one_winner_per_version_and_lose_no_update(
        self, store: EventStoreBackend
    ) -> None:
        per_writer = 10
        everyone_has_read = asyncio.Barrier(WRITERS)
        conflicts = 0
        deadline = time.monotonic() + DEADLINE_S

        async def writer(w: int) -> None:
            nonlocal conflicts
            first_attempt = True
            for seq in range(per_writer):
                while True:
                    assert time.monotonic() < deadline, f"writer {w} starved"
                    version = await store.stream_version("counter")
                    if first_attempt:
                        # every writer has read version 0 before anyone appends: a real race
                        first_attempt = False
                        await everyone_has_read.wait()
                    try:
                        await store.append("counter", [tick(w, seq)], expected_version=version)
                    except ConcurrencyError:
                        conflicts += 1
                        await asyncio.sleep(0)  # let the others run (the memory store never waits)
                        continue
                    await asyncio.sleep(0)
                    break

        await run_all([writer(w) for w in range(WRITERS)])

        events = await store.read_stream("counter")
        assert [e.version for e in events] == list(range(1, WRITERS * per_writer + 1))
        _assert_each_writer_complete_and_in_order(events, per_writer)
        assert conflicts >= WRITERS - 1  # the first round alone has one winner and 15 losers
        assert [e.event_id for e in await everything(store)] == [e.event_id for e in events]

    async def test_racing_writers_with_any_all_succeed_with_contiguous_versions(
        self, store: EventStoreBackend
    ) -> None:
        per_writer = 10
        start = asyncio.Barrier(WRITERS)

        async def writer(w: int) -> None:
            await start.wait()
            for seq in range(per_writer):
                await store.append("counter", [tick(w, seq)], expected_version=ANY)
                await asyncio.sleep(0)

        await run_all([writer(w) for w in range(WRITERS)])

        events = await store.read_stream("counter")
        assert [e.version for e in events] == list(range(1, WRITERS * per_writer + 1))
        _assert_each_writer_complete_and_in_order(events, per_writer)

    async def test_racing_writers_with_stream_exists_all_succeed_on_an_existing_stream(
        self, store: EventStoreBackend
    ) -> None:
        # the stream exists throughout, so STREAM_EXISTS can never be a conflict
        per_writer = 5
        await store.append("counter", [Ticked(writer=-1, seq=0)], expected_version=NO_STREAM)
        start = asyncio.Barrier(WRITERS)

        async def writer(w: int) -> None:
            await start.wait()
            for seq in range(per_writer):
                await store.append("counter", [tick(w, seq)], expected_version=STREAM_EXISTS)
                await asyncio.sleep(0)

        await run_all([writer(w) for w in range(WRITERS)])

        events = await store.read_stream("counter")
        assert [e.version for e in events] == list(range(1, WRITERS * per_writer + 2))
        _assert_each_writer_complete_and_in_order(events[1:], per_writer)

    async def test_racing_appends_of_the_same_new_stream_create_it_once(
        self, store: EventStoreBackend
    ) -> None:
        start = asyncio.Barrier(WRITERS)

        async def writer(w: int) -> bool:
            await start.wait()
            try:
                await store.append("order-1", [tick(w, 0), tick(w, 1)], expected_version=NO_STREAM)
            except ConcurrencyError:
                return False
            return True

        won = await run_all([writer(w) for w in range(WRITERS)])

        assert won.count(True) == 1
        events = await store.read_stream("order-1")
        winner = won.index(True)
        assert [(e.version, e.data["writer"]) for e in events] == [(1, winner), (2, winner)]
        assert await store.last_position() == events[-1].position

    async def test_racing_retries_of_one_append_store_it_once(
        self, store: EventStoreBackend
    ) -> None:
        # a client retrying the same append (same event ids) on many connections at once
        events = [tick(0, 0), tick(0, 1)]
        start = asyncio.Barrier(WRITERS)

        async def retry() -> tuple[int, int, bool]:
            await start.wait()
            result = await store.append("order-1", events, expected_version=NO_STREAM)
            return result.version, result.position, result.deduplicated

        results = await run_all([retry() for _ in range(WRITERS)])

        stored = await store.read_stream("order-1")
        assert [e.event_id for e in stored] == [e.event_id for e in events]
        assert {(version, position) for version, position, _ in results} == {
            (2, stored[-1].position)
        }
        assert [dedup for _, _, dedup in results].count(False) == 1

    async def test_reader_following_concurrent_writers_sees_every_event_once_in_stream_order(
        self, store: EventStoreBackend
    ) -> None:
        appends_per_writer = 30
        writers_done = asyncio.Event()
        deadline = time.monotonic() + DEADLINE_S
        seen: list[StoredEvent] = []
        reads_while_writing = 0

        async def writer(w: int) -> None:
            stream = f"stream-{w}"
            for seq in range(appends_per_writer):
                await store.append(stream, [tick(w, seq)], expected_version=seq)
                await asyncio.sleep(0)

        async def reader() -> None:
            nonlocal reads_while_writing
            checkpoint = 0
            while True:
                assert time.monotonic() < deadline, "reader never caught up"
                finished = writers_done.is_set()  # read before the batch: then it is final
                batch = await store.read_batch(after=checkpoint, limit=7)
                if batch:
                    assert batch[0].position > checkpoint
                    seen.extend(batch)
                    checkpoint = batch[-1].position
                    reads_while_writing += not finished
                elif finished:
                    return
                else:
                    await asyncio.sleep(0)

        async def write_all() -> None:
            await run_all([writer(w) for w in range(WRITERS)])
            writers_done.set()

        await run_all([reader(), write_all()])

        ids = [e.event_id for e in seen]
        assert len(ids) == WRITERS * appends_per_writer
        assert not [i for i, n in Counter(ids).items() if n > 1]
        assert ids == [e.event_id for e in await everything(store)]
        for w in range(WRITERS):
            versions = [e.version for e in seen if e.stream_id == f"stream-{w}"]
            assert versions == list(range(1, appends_per_writer + 1))
        assert reads_while_writing > 0  # the reader really ran alongside the writers

    async def test_concurrent_appends_to_distinct_streams_get_distinct_positions(
        self, store: EventStoreBackend
    ) -> None:
        start = asyncio.Barrier(WRITERS)

        async def writer(w: int) -> list[int]:
            await start.wait()
            positions = []
            for seq in range(5):
                result = await store.append(
                    f"stream-{w}", [tick(w, seq), tick(w, seq)], expected_version=ANY
                )
                positions.append(result.position)
            return positions

        results = await run_all([writer(w) for w in range(WRITERS)])

        stored = await everything(store)
        positions = [e.position for e in stored]
        assert len(stored) == WRITERS * 5 * 2
        assert len(set(positions)) == len(positions)
        assert {p for r in results for p in r} <= set(positions)

    async def test_concurrent_appends_succeed_or_fail_each_on_their_own(
        self, store: EventStoreBackend
    ) -> None:
        # stores may commit concurrent appends together; each must still stand alone
        for n in range(WRITERS):
            await store.append(f"acc-{n}", [tick(n, 0)], expected_version=NO_STREAM)
        retried = [tick(99, n) for n in range(WRITERS)]
        for n in range(0, WRITERS, 4):
            await store.append(f"acc-{n}", [retried[n]], expected_version=1)
        start = asyncio.Barrier(WRITERS)

        async def writer(n: int) -> str:
            await start.wait()
            if n % 4 == 0:  # the retry of an append that already succeeded
                result = await store.append(f"acc-{n}", [retried[n]], expected_version=1)
                return "deduplicated" if result.deduplicated else "written twice"
            expected = 1 if n % 4 == 1 else 5  # 5 is stale: the stream is at 1
            try:
                await store.append(f"acc-{n}", [tick(n, 1), tick(n, 2)], expected_version=expected)
            except ConcurrencyError:
                return "conflict"
            return "written"

        outcomes = await run_all([writer(n) for n in range(WRITERS)])

        expected_outcomes = ["deduplicated", "written", "conflict", "conflict"] * (WRITERS // 4)
        assert outcomes == expected_outcomes
        for n in range(WRITERS):
            versions = [e.version for e in await store.read_stream(f"acc-{n}")]
            assert versions == {0: [1, 2], 1: [1, 2, 3]}.get(n % 4, [1])
