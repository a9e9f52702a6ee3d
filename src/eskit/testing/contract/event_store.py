"""What every event store must do: appends, reads, the global log, streams, idempotency."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from eskit.errors import ConcurrencyError, DuplicateEventError
from eskit.store import ANY, NO_STREAM, STREAM_EXISTS, EventStoreBackend, NewEvent, StoredEvent
from eskit.testing.contract._events import ItemRemoved, PriceChanged, added, new
from eskit.testing.contract.hooks import StoreUnderTest

__all__ = ["EventStoreContract"]


async def everything(store: EventStoreBackend, **kwargs: Any) -> list[StoredEvent]:
    return [e async for e in store.read_all(**kwargs)]


async def first_position(store: EventStoreBackend, stream_id: str) -> int:
    return (await store.read_stream(stream_id, to_version=1))[0].position


async def _five_events(store: EventStoreBackend) -> None:
    await store.append("cart-1", [added(str(i)) for i in range(1, 6)], expected_version=NO_STREAM)


async def _interleaved(store: EventStoreBackend) -> list[tuple[str, str]]:
    """Seven events over three streams of two types, appended in a known order."""
    await store.append("cart-1", [added("c1a")], expected_version=NO_STREAM, stream_type="cart")
    await store.append("order-1", [added("o1a")], expected_version=NO_STREAM, stream_type="order")
    await store.append("cart-1", [ItemRemoved(item="c1b")], expected_version=1)
    await store.append(
        "cart-2", [added("c2a"), added("c2b")], expected_version=NO_STREAM, stream_type="cart"
    )
    await store.append("order-1", [ItemRemoved(item="o1b")], expected_version=1)
    await store.append("cart-1", [added("c1c")], expected_version=2)
    return [
        ("cart-1", "c1a"),
        ("order-1", "o1a"),
        ("cart-1", "c1b"),
        ("cart-2", "c2a"),
        ("cart-2", "c2b"),
        ("order-1", "o1b"),
        ("cart-1", "c1c"),
    ]


def _keys(events: list[StoredEvent]) -> list[tuple[str, str]]:
    return [(e.stream_id, e.data["item"]) for e in events]


BATCH_SIZES = pytest.mark.parametrize("size", [1, 3], ids=["one-event", "three-events"])


class EventStoreContract(StoreUnderTest):
    """Appends and expected versions, stream and global reads, stream listing, what is stored,
    idempotent appends, empty appends, the read horizon and migrations."""

    # -- expected version ----------------------------------------------------------

    async def test_append_to_new_stream_with_no_stream_creates_it_at_version_1(
        self, store: EventStoreBackend
    ) -> None:
        result = await store.append("cart-1", [added()], expected_version=NO_STREAM)

        assert result.version == 1
        assert not result.deduplicated
        assert [e.version for e in await store.read_stream("cart-1")] == [1]

    async def test_append_to_new_stream_with_expected_zero_creates_it_at_version_1(
        self, store: EventStoreBackend
    ) -> None:
        result = await store.append("cart-1", [added()], expected_version=0)

        assert result.version == 1
        assert [e.version for e in await store.read_stream("cart-1")] == [1]

    async def test_append_at_exact_current_version_succeeds(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added("a"), added("b")], expected_version=NO_STREAM)

        result = await store.append("cart-1", [added("c")], expected_version=2)

        assert result.version == 3
        assert [e.data["item"] for e in await store.read_stream("cart-1")] == ["a", "b", "c"]

    @pytest.mark.parametrize("size", [1, 3], ids=["one-event", "three-events"])
    async def test_append_at_stale_version_raises_concurrency_error_and_writes_nothing(
        self, store: EventStoreBackend, size: int
    ) -> None:
        await store.append("cart-1", [added("a")], expected_version=NO_STREAM)
        await store.append("cart-1", [added("b")], expected_version=1)
        before = await store.last_position()

        with pytest.raises(ConcurrencyError):
            await store.append("cart-1", [added("stale")] * size, expected_version=1)

        assert [e.data["item"] for e in await store.read_stream("cart-1")] == ["a", "b"]
        assert await store.last_position() == before

    async def test_concurrency_error_names_stream_expected_and_actual_version(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("a"), added("b")], expected_version=NO_STREAM)

        with pytest.raises(ConcurrencyError) as caught:
            await store.append("cart-1", [added()], expected_version=1)

        assert caught.value.stream_id == "cart-1"
        assert caught.value.expected == 1
        assert caught.value.actual == 2

    async def test_append_at_version_ahead_of_stream_raises_concurrency_error(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        with pytest.raises(ConcurrencyError):
            await store.append("cart-1", [added()], expected_version=5)

        assert await store.stream_version("cart-1") == 1

    async def test_append_at_nonzero_version_to_missing_stream_raises_concurrency_error(
        self, store: EventStoreBackend
    ) -> None:
        with pytest.raises(ConcurrencyError):
            await store.append("cart-1", [added()], expected_version=1)

        assert not await store.stream_exists("cart-1")

    async def test_no_stream_on_existing_stream_raises_concurrency_error(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        with pytest.raises(ConcurrencyError):
            await store.append("cart-1", [added()], expected_version=NO_STREAM)

        assert await store.stream_version("cart-1") == 1

    async def test_stream_exists_on_missing_stream_raises_concurrency_error(
        self, store: EventStoreBackend
    ) -> None:
        with pytest.raises(ConcurrencyError):
            await store.append("cart-1", [added()], expected_version=STREAM_EXISTS)

        assert not await store.stream_exists("cart-1")
        assert await store.last_position() == 0

    async def test_stream_exists_on_existing_stream_appends(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added("a")], expected_version=NO_STREAM)

        result = await store.append("cart-1", [added("b")], expected_version=STREAM_EXISTS)

        assert result.version == 2
        assert [e.data["item"] for e in await store.read_stream("cart-1")] == ["a", "b"]

    async def test_any_creates_a_missing_stream(self, store: EventStoreBackend) -> None:
        result = await store.append("cart-1", [added()], expected_version=ANY)

        assert result.version == 1
        assert await store.stream_version("cart-1") == 1

    async def test_any_appends_to_an_existing_stream(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added("a"), added("b")], expected_version=NO_STREAM)

        result = await store.append("cart-1", [added("c")], expected_version=ANY)

        assert result.version == 3
        assert [e.version for e in await store.read_stream("cart-1")] == [1, 2, 3]

    @pytest.mark.parametrize(
        "expected",
        [-1, True, False, None],
        ids=["negative", "true", "false", "none"],
    )
    async def test_invalid_expected_version_raises_value_error_and_writes_nothing(
        self, store: EventStoreBackend, expected: Any
    ) -> None:
        with pytest.raises(ValueError, match="expected_version"):
            await store.append("cart-1", [added()], expected_version=expected)

        assert await store.last_position() == 0
        assert not await store.stream_exists("cart-1")

    async def test_append_of_more_than_65535_events_raises_value_error(
        self, store: EventStoreBackend
    ) -> None:
        with pytest.raises(ValueError, match="65535"):
            await store.append("cart-1", [added()] * 65_536, expected_version=NO_STREAM)

        assert not await store.stream_exists("cart-1")

    # -- versions, positions, atomicity --------------------------------------------

    async def test_versions_start_at_1_and_are_contiguous_across_appends(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("a")], expected_version=NO_STREAM)
        await store.append("cart-1", [added("b"), added("c"), added("d")], expected_version=1)
        await store.append("cart-1", [added("e"), added("f")], expected_version=ANY)

        assert [e.version for e in await store.read_stream("cart-1")] == [1, 2, 3, 4, 5, 6]

    async def test_versions_are_counted_per_stream(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added(), added()], expected_version=NO_STREAM)
        await store.append("cart-2", [added()], expected_version=NO_STREAM)
        await store.append("cart-1", [added()], expected_version=2)

        assert [e.version for e in await store.read_stream("cart-1")] == [1, 2, 3]
        assert [e.version for e in await store.read_stream("cart-2")] == [1]

    async def test_append_result_reports_version_and_position_of_its_last_event(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("a")], expected_version=NO_STREAM)

        result = await store.append("cart-1", [added("b"), added("c")], expected_version=1)

        last = (await store.read_stream("cart-1"))[-1]
        assert result.stream_id == "cart-1"
        assert (result.version, result.position) == (3, last.position)

    async def test_failed_multi_event_append_writes_none_of_its_events(
        self, store: EventStoreBackend
    ) -> None:
        taken = NewEvent(added("elsewhere"))
        await store.append("other", [taken], expected_version=NO_STREAM)
        await store.append("cart-1", [added("a")], expected_version=NO_STREAM)
        before_stream = await store.read_stream("cart-1")
        before_position = await store.last_position()

        # the first two events are fine; the third clashes with an id stored in another stream
        with pytest.raises(DuplicateEventError):
            await store.append("cart-1", [new("b"), new("c"), taken], expected_version=1)

        assert await store.read_stream("cart-1") == before_stream
        assert await store.last_position() == before_position
        assert await store.stream_version("cart-1") == 1

    async def test_failed_multi_event_append_to_new_stream_does_not_create_it(
        self, store: EventStoreBackend
    ) -> None:
        taken = NewEvent(added("elsewhere"))
        await store.append("other", [taken], expected_version=NO_STREAM)

        with pytest.raises(DuplicateEventError):
            await store.append("cart-1", [new("a"), taken], expected_version=NO_STREAM)

        assert not await store.stream_exists("cart-1")
        assert [s.stream_id for s in await store.list_streams()] == ["other"]

    # -- reading one stream --------------------------------------------------------

    async def test_read_stream_returns_events_in_version_order(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("1"), added("2")], expected_version=NO_STREAM)
        await store.append("cart-2", [added("x")], expected_version=NO_STREAM)
        await store.append("cart-1", [added("3")], expected_version=2)

        events = await store.read_stream("cart-1")

        assert [(e.version, e.data["item"]) for e in events] == [(1, "1"), (2, "2"), (3, "3")]
        assert {e.stream_id for e in events} == {"cart-1"}

    async def test_read_stream_of_missing_stream_is_empty(self, store: EventStoreBackend) -> None:
        assert await store.read_stream("nope") == []

    async def test_read_stream_from_version_skips_earlier_events(
        self, store: EventStoreBackend
    ) -> None:
        await _five_events(store)

        assert [e.version for e in await store.read_stream("cart-1", from_version=3)] == [3, 4, 5]

    async def test_read_stream_to_version_stops_at_it(self, store: EventStoreBackend) -> None:
        await _five_events(store)

        assert [e.version for e in await store.read_stream("cart-1", to_version=2)] == [1, 2]

    async def test_read_stream_between_versions_is_inclusive(
        self, store: EventStoreBackend
    ) -> None:
        await _five_events(store)

        events = await store.read_stream("cart-1", from_version=2, to_version=4)

        assert [e.version for e in events] == [2, 3, 4]

    async def test_read_stream_from_beyond_last_version_is_empty(
        self, store: EventStoreBackend
    ) -> None:
        await _five_events(store)

        assert await store.read_stream("cart-1", from_version=6) == []

    async def test_read_stream_until_keeps_events_recorded_at_or_before_it(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("1")], expected_version=NO_STREAM)
        await store.append("cart-1", [added("2")], expected_version=1)
        await store.append("cart-1", [added("3")], expected_version=2)
        first, second, third = await store.read_stream("cart-1")
        assert first.recorded_at < second.recorded_at < third.recorded_at  # precondition

        events = await store.read_stream("cart-1", until=second.recorded_at)

        assert [e.version for e in events] == [1, 2]

    async def test_read_stream_until_compares_instants_whatever_the_time_zone(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("1")], expected_version=NO_STREAM)
        await store.append("cart-1", [added("2")], expected_version=1)
        first, second = await store.read_stream("cart-1")
        assert first.recorded_at < second.recorded_at  # precondition
        east = timezone(timedelta(hours=5, minutes=30))

        events = await store.read_stream("cart-1", until=first.recorded_at.astimezone(east))

        assert [e.version for e in events] == [1]

    async def test_read_stream_until_before_first_event_is_empty(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added("1")], expected_version=NO_STREAM)
        (first,) = await store.read_stream("cart-1")

        assert (
            await store.read_stream("cart-1", until=first.recorded_at - timedelta(seconds=1)) == []
        )

    # -- the global log ------------------------------------------------------------

    async def test_read_batch_returns_events_of_all_streams_in_append_order(
        self, store: EventStoreBackend
    ) -> None:
        order = await _interleaved(store)

        assert _keys(await store.read_batch()) == order

    async def test_read_batch_returns_at_most_limit_events_from_the_start(
        self, store: EventStoreBackend
    ) -> None:
        order = await _interleaved(store)

        assert _keys(await store.read_batch(limit=3)) == order[:3]

    async def test_read_batch_after_a_position_returns_only_later_events(
        self, store: EventStoreBackend
    ) -> None:
        order = await _interleaved(store)
        third = (await store.read_batch(limit=3))[-1]

        assert _keys(await store.read_batch(after=third.position)) == order[3:]

    async def test_read_batch_continued_from_each_checkpoint_returns_everything_once(
        self, store: EventStoreBackend
    ) -> None:
        order = await _interleaved(store)
        seen: list[StoredEvent] = []
        checkpoint = 0
        while batch := await store.read_batch(after=checkpoint, limit=2):
            assert len(batch) <= 2
            seen.extend(batch)
            checkpoint = batch[-1].position

        assert _keys(seen) == order

    async def test_read_batch_after_last_position_is_empty(self, store: EventStoreBackend) -> None:
        await _interleaved(store)

        assert await store.read_batch(after=await store.last_position()) == []

    async def test_read_batch_of_empty_store_is_empty(self, store: EventStoreBackend) -> None:
        assert await store.read_batch() == []

    async def test_read_batch_filters_by_stream_type(self, store: EventStoreBackend) -> None:
        order = await _interleaved(store)

        events = await store.read_batch(stream_types=["order"])

        assert _keys(events) == [k for k in order if k[0].startswith("order")]

    async def test_read_batch_filters_by_event_type(self, store: EventStoreBackend) -> None:
        await _interleaved(store)

        events = await store.read_batch(event_types={"ItemRemoved"})

        assert _keys(events) == [("cart-1", "c1b"), ("order-1", "o1b")]

    async def test_read_batch_combines_stream_and_event_type_filters(
        self, store: EventStoreBackend
    ) -> None:
        await _interleaved(store)

        events = await store.read_batch(stream_types=["cart"], event_types=["ItemRemoved"])

        assert _keys(events) == [("cart-1", "c1b")]

    async def test_read_batch_limit_counts_only_matching_events(
        self, store: EventStoreBackend
    ) -> None:
        await _interleaved(store)

        events = await store.read_batch(stream_types=["cart"], limit=3)

        assert _keys(events) == [("cart-1", "c1a"), ("cart-1", "c1b"), ("cart-2", "c2a")]

    @pytest.mark.parametrize("batch_size", [1, 3, 7])
    async def test_read_all_returns_every_event_in_order_whatever_the_batch_size(
        self, store: EventStoreBackend, batch_size: int
    ) -> None:
        order = await _interleaved(store)

        assert _keys(await everything(store, batch_size=batch_size)) == order

    async def test_read_all_after_a_position_returns_only_later_events(
        self, store: EventStoreBackend
    ) -> None:
        order = await _interleaved(store)
        fourth = (await store.read_batch(limit=4))[-1]

        events = await everything(store, after=fourth.position, batch_size=2)

        assert _keys(events) == order[4:]

    async def test_read_all_filters_by_stream_type_across_batches(
        self, store: EventStoreBackend
    ) -> None:
        order = await _interleaved(store)

        events = await everything(store, batch_size=1, stream_types=["cart"])

        assert _keys(events) == [k for k in order if k[0].startswith("cart")]

    async def test_read_all_filters_by_event_type_across_batches(
        self, store: EventStoreBackend
    ) -> None:
        await _interleaved(store)

        events = await everything(store, batch_size=1, event_types=["ItemAdded"])

        assert [e.event_type for e in events] == ["ItemAdded"] * 5

    async def test_positions_strictly_increase_in_read_all_order(
        self, store: EventStoreBackend
    ) -> None:
        await _interleaved(store)
        await store.append("cart-3", [added() for _ in range(10)], expected_version=NO_STREAM)

        positions = [e.position for e in await everything(store, batch_size=4)]

        assert len(positions) == 17
        assert all(a < b for a, b in itertools.pairwise(positions))
        assert positions[0] > 0

    async def test_positions_within_a_stream_grow_with_version(
        self, store: EventStoreBackend
    ) -> None:
        await _interleaved(store)

        positions = [e.position for e in await store.read_stream("cart-1")]

        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)

    # -- stream state and positions ------------------------------------------------

    async def test_stream_version_of_missing_stream_is_zero(self, store: EventStoreBackend) -> None:
        assert await store.stream_version("nope") == 0

    async def test_stream_version_is_the_number_of_events(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added(), added()], expected_version=NO_STREAM)
        await store.append("cart-1", [added()], expected_version=2)

        assert await store.stream_version("cart-1") == 3

    async def test_stream_exists_is_false_for_missing_stream(
        self, store: EventStoreBackend
    ) -> None:
        assert not await store.stream_exists("nope")

    async def test_stream_exists_is_true_after_first_append(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        assert await store.stream_exists("cart-1")

    async def test_last_position_of_empty_store_is_zero(self, store: EventStoreBackend) -> None:
        assert await store.last_position() == 0

    async def test_last_position_is_the_position_of_the_last_appended_event(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)
        result = await store.append("cart-2", [added(), added()], expected_version=NO_STREAM)

        assert await store.last_position() == result.position
        assert (await everything(store))[-1].position == result.position

    async def test_read_horizon_of_quiet_store_is_last_position_with_nothing_pending(
        self, store: EventStoreBackend
    ) -> None:
        await _interleaved(store)

        horizon = await store.read_horizon()

        assert horizon.position == await store.last_position()
        assert horizon.pending_events == 0
        assert horizon.blockers == ()

    async def test_read_horizon_of_empty_store_is_zero(self, store: EventStoreBackend) -> None:
        horizon = await store.read_horizon()

        assert (horizon.position, horizon.pending_events, horizon.blockers) == (0, 0, ())

    # -- listing streams -----------------------------------------------------------

    async def test_list_streams_of_empty_store_is_empty(self, store: EventStoreBackend) -> None:
        assert await store.list_streams() == []

    async def test_list_streams_orders_by_creation_not_by_last_write(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("b", [added()], expected_version=NO_STREAM)
        await store.append("a", [added()], expected_version=NO_STREAM)
        await store.append("c", [added()], expected_version=NO_STREAM)
        await store.append("b", [added()], expected_version=1)

        assert [s.stream_id for s in await store.list_streams()] == ["b", "a", "c"]

    async def test_list_streams_reports_type_version_and_write_times(
        self, store: EventStoreBackend
    ) -> None:
        await store.append(
            "cart-1", [added(), added()], expected_version=NO_STREAM, stream_type="cart"
        )
        await store.append("cart-1", [added()], expected_version=2)
        events = await store.read_stream("cart-1")

        (info,) = await store.list_streams()

        assert (info.stream_id, info.stream_type, info.version) == ("cart-1", "cart", 3)
        assert info.created_at == events[0].recorded_at
        assert info.updated_at == events[-1].recorded_at

    async def test_list_streams_returns_at_most_limit_streams(
        self, store: EventStoreBackend
    ) -> None:
        for i in range(5):
            await store.append(f"s{i}", [added()], expected_version=NO_STREAM)

        assert [s.stream_id for s in await store.list_streams(limit=2)] == ["s0", "s1"]

    async def test_list_streams_pages_with_after_the_first_position_of_the_last_stream(
        self, store: EventStoreBackend
    ) -> None:
        for i in range(7):
            await store.append(f"s{i}", [added(), added()], expected_version=NO_STREAM)
        pages: list[list[str]] = []
        after = 0
        while page := await store.list_streams(limit=3, after=after):
            pages.append([s.stream_id for s in page])
            after = await first_position(store, page[-1].stream_id)

        assert pages == [["s0", "s1", "s2"], ["s3", "s4", "s5"], ["s6"]]

    async def test_list_streams_filters_by_stream_type(self, store: EventStoreBackend) -> None:
        await _interleaved(store)

        streams = await store.list_streams(stream_type="cart")

        assert [(s.stream_id, s.stream_type) for s in streams] == [
            ("cart-1", "cart"),
            ("cart-2", "cart"),
        ]

    # -- what is stored ------------------------------------------------------------

    async def test_every_field_of_an_event_is_kept(self, store: EventStoreBackend) -> None:
        event_id = uuid.uuid4()
        metadata = {
            "correlation_id": str(uuid.uuid4()),
            "causation_id": str(uuid.uuid4()),
            "actor": "user:42",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        }
        event = PriceChanged(
            sku="SKU-1", price={"amount": "9.99", "currency": "EUR"}, tags=["sale", "ünïcødé"]
        )
        before = datetime.now(UTC)

        result = await store.append(
            "catalog-1",
            [NewEvent(event, event_id=event_id, metadata=metadata)],
            expected_version=NO_STREAM,
            stream_type="catalog",
        )

        after = datetime.now(UTC)
        (stored,) = await store.read_stream("catalog-1")
        assert stored.position == result.position
        assert stored.stream_id == "catalog-1"
        assert stored.stream_type == "catalog"
        assert stored.version == 1
        assert stored.event_id == event_id
        assert stored.event_type == "catalog.price_changed"
        assert stored.schema_version == 3
        assert stored.data == {
            "sku": "SKU-1",
            "price": {"amount": "9.99", "currency": "EUR"},
            "tags": ["sale", "ünïcødé"],
        }
        assert stored.metadata == metadata
        assert stored.recorded_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=2) <= stored.recorded_at <= after + timedelta(seconds=2)

    async def test_global_log_returns_the_same_record_as_the_stream(
        self, store: EventStoreBackend
    ) -> None:
        await store.append(
            "catalog-1",
            [NewEvent(PriceChanged(sku="x", price={"a": 1}, tags=[]), metadata={"actor": "me"})],
            expected_version=NO_STREAM,
            stream_type="catalog",
        )

        assert await store.read_batch() == await store.read_stream("catalog-1")

    async def test_event_without_given_id_gets_a_fresh_one(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added(), added()], expected_version=NO_STREAM)

        first, second = await store.read_stream("cart-1")

        assert isinstance(first.event_id, uuid.UUID)
        assert first.event_id != second.event_id

    async def test_append_metadata_is_merged_under_each_events_own(
        self, store: EventStoreBackend
    ) -> None:
        await store.append(
            "cart-1",
            [new("a", actor="user:1"), added("b")],
            expected_version=NO_STREAM,
            metadata={"actor": "system", "correlation_id": "corr-1"},
        )

        first, second = await store.read_stream("cart-1")

        assert first.metadata == {"actor": "user:1", "correlation_id": "corr-1"}
        assert second.metadata == {"actor": "system", "correlation_id": "corr-1"}

    async def test_event_without_metadata_stores_an_empty_mapping(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        (stored,) = await store.read_stream("cart-1")

        assert stored.metadata == {}

    async def test_stream_without_type_is_stored_with_empty_type(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        (stored,) = await store.read_stream("cart-1")

        assert stored.stream_type == ""

    async def test_later_append_without_type_keeps_the_streams_type(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM, stream_type="cart")
        await store.append("cart-1", [added()], expected_version=1)

        assert [e.stream_type for e in await store.read_stream("cart-1")] == ["cart", "cart"]

    async def test_later_append_with_another_type_keeps_the_streams_type(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM, stream_type="cart")
        await store.append("cart-1", [added()], expected_version=1, stream_type="order")

        assert [e.stream_type for e in await store.read_stream("cart-1")] == ["cart", "cart"]
        assert [e.stream_id for e in await store.read_batch(stream_types=["cart"])] == [
            "cart-1"
        ] * 2

    async def test_find_events_returns_stored_events_by_id_leaving_out_missing_ones(
        self, store: EventStoreBackend
    ) -> None:
        a, b = new("a"), new("b")
        await store.append("cart-1", [a, b, new("c")], expected_version=NO_STREAM)

        found = await store.find_events([b.event_id, uuid.uuid4(), a.event_id])

        assert sorted((e.event_id, e.version) for e in found) == sorted(
            [(a.event_id, 1), (b.event_id, 2)]
        )

    async def test_find_events_with_no_ids_is_empty(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        assert await store.find_events([]) == []

    # -- idempotent appends --------------------------------------------------------

    @BATCH_SIZES
    async def test_repeating_an_append_with_the_same_expected_version_is_deduplicated(
        self, store: EventStoreBackend, size: int
    ) -> None:
        events = [new(str(i)) for i in range(size)]
        first = await store.append("cart-1", events, expected_version=NO_STREAM)
        position = await store.last_position()

        again = await store.append("cart-1", events, expected_version=NO_STREAM)

        assert again.deduplicated
        assert (again.stream_id, again.version, again.position) == ("cart-1", size, first.position)
        assert await store.last_position() == position
        assert [e.event_id for e in await store.read_stream("cart-1")] == [
            e.event_id for e in events
        ]

    @BATCH_SIZES
    async def test_repeating_an_append_at_a_stale_version_returns_the_original_outcome(
        self, store: EventStoreBackend, size: int
    ) -> None:
        await store.append("cart-1", [added("first")], expected_version=NO_STREAM)
        events = [new(str(i)) for i in range(size)]
        original = await store.append("cart-1", events, expected_version=1)
        await store.append("cart-1", [added("later")], expected_version=1 + size)
        position = await store.last_position()

        again = await store.append("cart-1", events, expected_version=1)

        assert again.deduplicated
        assert (again.version, again.position) == (1 + size, original.position)
        assert await store.last_position() == position
        assert await store.stream_version("cart-1") == 2 + size

    @BATCH_SIZES
    async def test_repeating_an_append_with_any_is_deduplicated(
        self, store: EventStoreBackend, size: int
    ) -> None:
        events = [new(str(i)) for i in range(size)]
        original = await store.append("cart-1", events, expected_version=ANY)
        position = await store.last_position()

        again = await store.append("cart-1", events, expected_version=ANY)

        assert again.deduplicated
        assert (again.version, again.position) == (original.version, original.position)
        assert await store.last_position() == position
        assert await store.stream_version("cart-1") == size

    @BATCH_SIZES
    async def test_repeating_an_append_with_stream_exists_is_deduplicated(
        self, store: EventStoreBackend, size: int
    ) -> None:
        await store.append("cart-1", [added("first")], expected_version=NO_STREAM)
        events = [new(str(i)) for i in range(size)]
        original = await store.append("cart-1", events, expected_version=STREAM_EXISTS)

        again = await store.append("cart-1", events, expected_version=STREAM_EXISTS)

        assert again.deduplicated
        assert (again.version, again.position) == (original.version, original.position)
        assert await store.stream_version("cart-1") == 1 + size

    @BATCH_SIZES
    async def test_event_ids_reused_in_another_stream_raise_duplicate_event_error(
        self, store: EventStoreBackend, size: int
    ) -> None:
        events = [new(str(i)) for i in range(size)]
        await store.append("cart-1", events, expected_version=NO_STREAM)
        position = await store.last_position()

        with pytest.raises(DuplicateEventError) as caught:
            await store.append("cart-2", events, expected_version=NO_STREAM)

        assert caught.value.event_id in {str(e.event_id) for e in events}
        assert not await store.stream_exists("cart-2")
        assert await store.last_position() == position

    async def test_stored_ids_mixed_with_new_ones_raise_duplicate_event_error(
        self, store: EventStoreBackend
    ) -> None:
        stored = new("a")
        await store.append("cart-1", [stored], expected_version=NO_STREAM)
        position = await store.last_position()

        with pytest.raises(DuplicateEventError):
            await store.append("cart-1", [stored, new("b")], expected_version=ANY)

        assert await store.stream_version("cart-1") == 1
        assert await store.last_position() == position

    async def test_stored_id_reused_for_another_event_type_raises_duplicate_event_error(
        self, store: EventStoreBackend
    ) -> None:
        event_id = uuid.uuid4()
        await store.append("cart-1", [NewEvent(added(), event_id=event_id)], expected_version=0)

        with pytest.raises(DuplicateEventError):
            await store.append(
                "cart-1", [NewEvent(ItemRemoved(item="a"), event_id=event_id)], expected_version=0
            )

        assert await store.stream_version("cart-1") == 1

    async def test_same_event_id_twice_in_one_append_raises_value_error(
        self, store: EventStoreBackend
    ) -> None:
        event_id = uuid.uuid4()

        with pytest.raises(ValueError, match="twice"):
            await store.append(
                "cart-1",
                [NewEvent(added("a"), event_id=event_id), NewEvent(added("b"), event_id=event_id)],
                expected_version=NO_STREAM,
            )

        assert await store.last_position() == 0
        assert not await store.stream_exists("cart-1")

    # -- empty appends -------------------------------------------------------------

    async def test_empty_append_to_existing_stream_returns_its_current_version(
        self, store: EventStoreBackend
    ) -> None:
        result = await store.append("cart-1", [added(), added()], expected_version=NO_STREAM)

        empty = await store.append("cart-1", [], expected_version=2)

        assert (empty.version, empty.position, empty.deduplicated) == (2, result.position, False)
        assert await store.last_position() == result.position

    async def test_empty_append_to_missing_stream_returns_version_zero_and_creates_nothing(
        self, store: EventStoreBackend
    ) -> None:
        empty = await store.append("cart-1", [], expected_version=NO_STREAM)

        assert (empty.version, empty.position) == (0, 0)
        assert not await store.stream_exists("cart-1")
        assert await store.list_streams() == []

    async def test_empty_append_at_stale_version_raises_concurrency_error(
        self, store: EventStoreBackend
    ) -> None:
        await store.append("cart-1", [added(), added()], expected_version=NO_STREAM)

        with pytest.raises(ConcurrencyError):
            await store.append("cart-1", [], expected_version=1)

    # -- schema --------------------------------------------------------------------

    async def test_migrate_twice_applies_nothing_the_second_time(
        self, store: EventStoreBackend
    ) -> None:
        await store.migrate()

        assert await store.migrate() == []

    async def test_migrate_keeps_stored_events(self, store: EventStoreBackend) -> None:
        await store.append("cart-1", [added()], expected_version=NO_STREAM)

        await store.migrate()

        assert await store.stream_version("cart-1") == 1
