"""What every transactional store must do: whatever one unit of work writes commits as one.

Appends (several, to one stream or to several), checkpoints, parked events and processed
message ids (read back through ``committed.inbox``) commit together when the block ends, and none of them when it raises; reads
inside see the transaction's own writes, readers outside see them only once committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import pytest

from eskit.errors import CheckpointMovedError, ConcurrencyError
from eskit.store import NO_STREAM, DeadLetter, NewEvent, TransactionalStore
from eskit.testing.contract._events import added
from eskit.testing.contract.hooks import TransactionalStoreUnderTest

__all__ = ["UnitOfWorkContract"]


class _Refused(Exception):  # noqa: N818 - the test's own reason to leave a block
    """Raised inside a unit of work to make it roll back."""


class UnitOfWorkContract(TransactionalStoreUnderTest):
    """``store.transaction()``: appends, log reads, checkpoints and ids committed as one."""

    # -- appends --------------------------------------------------------------------------

    async def test_appends_to_two_streams_commit_together(self, db: TransactionalStore) -> None:
        async with db.transaction() as tx:
            first = await tx.append("order-1", [added("a")], expected_version=NO_STREAM)
            second = await tx.append("stock-1", [added("b"), added("c")], expected_version=0)

        assert [e.data["item"] for e in await db.read_stream("order-1")] == ["a"]
        assert [e.data["item"] for e in await db.read_stream("stock-1")] == ["b", "c"]
        assert (first.version, second.version) == (1, 2)
        assert first.position < second.position == await db.last_position()

    async def test_a_failing_second_append_rolls_back_the_first(
        self, db: TransactionalStore
    ) -> None:
        await db.append("stock-1", [added("x")], expected_version=NO_STREAM)

        async def write_both() -> None:
            async with db.transaction() as tx:
                await tx.append("order-1", [added("a")], expected_version=NO_STREAM)
                await tx.append("stock-1", [added("b")], expected_version=NO_STREAM)

        with pytest.raises(ConcurrencyError):
            await write_both()

        assert await db.read_stream("order-1") == []
        assert [e.data["item"] for e in await db.read_stream("stock-1")] == ["x"]

    async def test_an_error_in_the_block_rolls_back_every_write(
        self, db: TransactionalStore
    ) -> None:
        async def write_then_refuse() -> None:
            async with db.transaction() as tx:
                await tx.append("order-1", [added("a")], expected_version=NO_STREAM)
                await tx.checkpoints.advance("saga", expected=0, to=5)
                await tx.record_processed("inbox", ["m-1"])
                raise _Refused

        with pytest.raises(_Refused):
            await write_then_refuse()

        assert await db.stream_version("order-1") == 0
        assert (await db.committed.checkpoints.get("saga")).position == 0
        async with db.transaction() as tx:
            assert await tx.record_processed("inbox", ["m-1"]) == ["m-1"]

    async def test_two_appends_to_one_stream_number_on(self, db: TransactionalStore) -> None:
        async with db.transaction() as tx:
            await tx.append("cart-1", [added("a")], expected_version=0)
            result = await tx.append("cart-1", [added("b")], expected_version=1)

        events = await db.read_stream("cart-1")
        assert [(e.version, e.data["item"]) for e in events] == [(1, "a"), (2, "b")]
        assert events[0].position < events[1].position == result.position

    async def test_many_appends_in_one_transaction_get_increasing_positions(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            for n in range(20):
                await tx.append(f"s-{n % 3}", [added(str(n))] * 3, expected_version=(n // 3) * 3)

        log = [e async for e in db.read_all()]
        assert [e.data["item"] for e in log] == [str(n) for n in range(20) for _ in range(3)]
        positions = [e.position for e in log]
        assert positions == sorted(set(positions))

    async def test_a_refused_append_leaves_the_transaction_usable(
        self, db: TransactionalStore
    ) -> None:
        await db.append("cart-1", [added("x")], expected_version=NO_STREAM)

        async with db.transaction() as tx:
            with pytest.raises(ConcurrencyError):
                await tx.append("cart-1", [added("stale")], expected_version=0)
            await tx.append("cart-2", [added("y")], expected_version=0)

        assert [e.data["item"] for e in await db.read_stream("cart-1")] == ["x"]
        assert [e.data["item"] for e in await db.read_stream("cart-2")] == ["y"]

    async def test_a_repeated_append_is_deduplicated_and_writes_nothing(
        self, db: TransactionalStore
    ) -> None:
        event = NewEvent(added("a"), event_id=uuid.uuid4())
        first = await db.append("cart-1", [event], expected_version=0)

        async with db.transaction() as tx:
            again = await tx.append("cart-1", [event], expected_version=0)

        assert again.deduplicated
        assert (again.version, again.position) == (first.version, first.position)
        assert await db.stream_version("cart-1") == 1

    async def test_more_than_65535_events_in_one_transaction_are_refused(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            await tx.append("big-1", [added()], expected_version=0)
            with pytest.raises(ValueError, match="65535"):
                await tx.append("big-2", [added()] * 65_535, expected_version=0)

        assert await db.stream_version("big-1") == 1
        assert await db.stream_version("big-2") == 0

    # -- reading ------------------------------------------------------------------------------

    async def test_reads_inside_see_the_transactions_own_appends(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            await tx.append("cart-1", [added("a"), added("b")], expected_version=0)
            mine = await tx.read_stream("cart-1", from_version=2)
            assert [e.data["item"] for e in mine] == ["b"]
            page = await tx.read_page(after=0, limit=10, visible_only=False)
            assert [e.data["item"] for e in page.events] == ["a", "b"]

    async def test_readers_outside_see_appends_only_once_committed(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            result = await tx.append("cart-1", [added("a")], expected_version=0)
            assert await db.read_stream("cart-1") == []
            assert (await db.read_page(after=0)).events == []
            seen = db.appended.generation

        assert db.appended.generation > seen
        assert db.appended.position >= result.position
        page = await db.read_page(after=0)
        assert [e.position for e in page.events] == [result.position]
        assert page.head == result.position

    async def test_read_page_gives_a_filtered_page_and_the_head(
        self, db: TransactionalStore
    ) -> None:
        await db.append("cart-1", [added("a")], expected_version=0, stream_type="cart")
        last = await db.append("wish-1", [added("b")], expected_version=0, stream_type="wish")

        async with db.transaction() as tx:
            page = await tx.read_page(after=0, limit=10, stream_types=["cart"])

        assert [e.stream_id for e in page.events] == ["cart-1"]
        assert page.head == last.position

    # -- checkpoints -------------------------------------------------------------------------

    async def test_a_checkpoint_starts_at_zero_and_moves_by_compare_and_set(
        self, db: TransactionalStore
    ) -> None:
        assert (await db.committed.checkpoints.get("p")).position == 0
        async with db.transaction() as tx:
            await tx.checkpoints.advance("p", expected=0, to=7)
        async with db.transaction() as tx:
            await tx.checkpoints.advance("p", expected=7, to=9)

        stored = await db.committed.checkpoints.get("p")
        assert (stored.name, stored.position, stored.error) == ("p", 9, None)
        assert stored.updated_at is not None

    async def test_a_checkpoint_that_moved_refuses_the_stale_advance(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            await tx.checkpoints.advance("p", expected=0, to=7)

        async def advance_from_a_stale_position() -> None:
            async with db.transaction() as tx:
                await tx.append("cart-1", [added()], expected_version=0)
                await tx.checkpoints.advance("p", expected=3, to=9)

        with pytest.raises(CheckpointMovedError):
            await advance_from_a_stale_position()

        assert (await db.committed.checkpoints.get("p")).position == 7
        assert await db.stream_version("cart-1") == 0

    async def test_reset_hold_delete_and_errors_of_checkpoints(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            await tx.checkpoints.reset("p", 12)
            await tx.checkpoints.record_error("p", 13, "boom")
            await tx.checkpoints.record_error("p", 13, "boom again")
            await tx.checkpoints.reset("q", 4)
        failing = await db.committed.checkpoints.get("p")
        assert (failing.position, failing.error, failing.error_position) == (12, "boom again", 13)
        assert failing.error_count == 2
        assert failing.error_at is not None

        async with db.transaction() as tx:
            assert await tx.checkpoints.hold("p") == 12
            await tx.checkpoints.advance("p", expected=12, to=20)
            await tx.checkpoints.delete("q")

        assert set(await db.committed.checkpoints.all()) == {"p"}
        moved = await db.committed.checkpoints.get("p")
        assert (moved.position, moved.error, moved.error_count) == (20, None, 0)

    async def test_concurrent_units_of_work_never_lose_a_checkpoint_move(
        self, db: TransactionalStore
    ) -> None:
        """Many tasks append and move one shared checkpoint by compare-and-set: every move
        and every append lands once, whichever transactions had to retry."""

        async def worker(number: int) -> None:
            for round_ in range(5):
                while True:
                    try:
                        async with db.transaction() as tx:
                            at = (await tx.checkpoints.get("counter")).position
                            await tx.append(
                                f"w-{number}", [added(str(round_))], expected_version=round_
                            )
                            await tx.checkpoints.advance("counter", expected=at, to=at + 1)
                        break
                    except CheckpointMovedError:
                        await asyncio.sleep(0)

        await asyncio.gather(*(worker(n) for n in range(8)))

        assert (await db.committed.checkpoints.get("counter")).position == 40
        for number in range(8):
            assert await db.stream_version(f"w-{number}") == 5

    # -- parked events and processed messages ------------------------------------------------

    async def test_parked_events_are_kept_per_projection_until_unparked(
        self, db: TransactionalStore
    ) -> None:
        at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        letter = DeadLetter("p", 12, str(uuid.uuid4()), "cart-1", "ItemAdded", "boom", at)
        async with db.transaction() as tx:
            await tx.dead_letters.park(letter)
            await tx.dead_letters.park(letter)  # parking twice keeps the first
            await tx.dead_letters.park(DeadLetter("q", 3, str(uuid.uuid4()), "s", "T", "e", at))

        assert await db.committed.dead_letters.all("p") == [letter]
        assert [d.projection for d in await db.committed.dead_letters.all()] == ["p", "q"]
        assert await db.committed.dead_letters.positions("p") == {12}
        async with db.transaction() as tx:
            assert await tx.dead_letters.unpark("p", 12)
            assert not await tx.dead_letters.unpark("p", 12)
        assert await db.committed.dead_letters.positions("p") == set()

    async def test_processed_ids_are_new_once_per_consumer(self, db: TransactionalStore) -> None:
        async with db.transaction() as tx:
            assert await tx.record_processed("inbox", ["m-1", "m-2", "m-1"]) == ["m-1", "m-2"]
        async with db.transaction() as tx:
            assert await tx.record_processed("inbox", ["m-2", "m-3"]) == ["m-3"]
            assert await tx.record_processed("other", ["m-2"]) == ["m-2"]
            assert await tx.record_processed("inbox", []) == []

    async def test_the_inbox_has_seen_only_what_the_consumer_recorded(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            await tx.record_processed("inbox", ["m-1", "m-2"])
            await tx.record_processed("other", ["m-3"])

        seen = db.committed.inbox.seen
        assert await seen("inbox", ["m-1", "m-3", "m-4", "m-2"]) == {"m-1", "m-2"}
        assert await seen("other", ["m-1", "m-3"]) == {"m-3"}
        assert await seen("inbox", []) == set()

    async def test_stream_versions_only_move_forward_per_consumer(
        self, db: TransactionalStore
    ) -> None:
        async with db.transaction() as tx:
            assert await tx.stream_versions("inbox", ["a", "b"]) == {}
            await tx.record_stream_versions("inbox", {"a": 3, "b": 1})
            await tx.record_stream_versions("other", {"a": 9})
        async with db.transaction() as tx:
            await tx.record_stream_versions("inbox", {"a": 2, "b": 4})  # a stays at 3
            assert await tx.stream_versions("inbox", ["a", "b", "c"]) == {"a": 3, "b": 4}
            await tx.record_stream_versions("inbox", {})
        with contextlib.suppress(RuntimeError):
            async with db.transaction() as tx:
                await tx.record_stream_versions("inbox", {"c": 1})
                raise RuntimeError("rolled back")
        async with db.transaction() as tx:
            assert await tx.stream_versions("inbox", ["c"]) == {}
            assert await tx.stream_versions("other", ["a"]) == {"a": 9}
