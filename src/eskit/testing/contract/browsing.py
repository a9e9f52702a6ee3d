"""What every store that lets an operator browse its log must do (``LogBrowser``).

Pages run newest first and are keyset pages: the ``first_position`` of a page's last stream
(or the ``position`` of its last event) is the ``before`` of the next one, and no stream or
event is shown twice or left out.
"""

from __future__ import annotations

from eskit.store import ANY, NO_STREAM, EventStoreBackend, LogBrowser, StreamTypeCount
from eskit.testing.contract._events import added, new
from eskit.testing.contract.hooks import StoreUnderTest

__all__ = ["LogBrowserContract"]


def _browser(store: EventStoreBackend) -> LogBrowser:
    assert isinstance(store, LogBrowser), f"{type(store).__name__} is no LogBrowser"
    return store


async def _fill(store: EventStoreBackend) -> None:
    """cart-1, order-1, cart-2, cart-3 created in this order; cart-1 written again last."""
    await store.append("cart-1", [added("a")], expected_version=NO_STREAM, stream_type="cart")
    await store.append("order-1", [added("b")], expected_version=NO_STREAM, stream_type="order")
    await store.append("cart-2", [added("c")], expected_version=NO_STREAM, stream_type="cart")
    await store.append("cart-3", [added("d")], expected_version=NO_STREAM, stream_type="cart")
    await store.append("cart-1", [new("e"), new("f")], expected_version=ANY, stream_type="cart")


class LogBrowserContract(StoreUnderTest):
    """Stream types with counts, streams and events newest first, in keyset pages."""

    async def test_an_empty_store_has_no_stream_types_streams_or_events(
        self, store: EventStoreBackend
    ) -> None:
        browser = _browser(store)

        assert await browser.stream_types() == []
        assert await browser.latest_streams() == []
        assert await browser.latest_events() == []

    async def test_stream_types_count_streams_not_events(self, store: EventStoreBackend) -> None:
        await _fill(store)

        assert await _browser(store).stream_types() == [
            StreamTypeCount("cart", 3),
            StreamTypeCount("order", 1),
        ]

    async def test_latest_streams_come_newest_first_with_their_current_version(
        self, store: EventStoreBackend
    ) -> None:
        await _fill(store)

        streams = await _browser(store).latest_streams()

        assert [(s.stream_id, s.version) for s in streams] == [
            ("cart-3", 1),
            ("cart-2", 1),
            ("order-1", 1),
            ("cart-1", 3),
        ]
        cart_1 = streams[-1]
        assert cart_1.updated_at >= cart_1.created_at

    async def test_latest_streams_of_a_type_leave_the_others_out(
        self, store: EventStoreBackend
    ) -> None:
        await _fill(store)

        streams = await _browser(store).latest_streams(stream_type="cart")

        assert [s.stream_id for s in streams] == ["cart-3", "cart-2", "cart-1"]
        assert await _browser(store).latest_streams(stream_type="invoice") == []

    async def test_latest_streams_page_on_the_last_first_position(
        self, store: EventStoreBackend
    ) -> None:
        await _fill(store)
        browser = _browser(store)

        first = await browser.latest_streams(stream_type="cart", limit=2)
        second = await browser.latest_streams(
            stream_type="cart", before=first[-1].first_position, limit=2
        )

        assert [s.stream_id for s in first] == ["cart-3", "cart-2"]
        assert [s.stream_id for s in second] == ["cart-1"]

    async def test_latest_events_come_newest_first(self, store: EventStoreBackend) -> None:
        await _fill(store)

        events = await _browser(store).latest_events(limit=3)

        assert [(e.stream_id, e.version) for e in events] == [
            ("cart-1", 3),
            ("cart-1", 2),
            ("cart-3", 1),
        ]
        assert events[0].position == await store.last_position()

    async def test_latest_events_page_on_the_last_position_without_gaps_or_repeats(
        self, store: EventStoreBackend
    ) -> None:
        await _fill(store)
        browser = _browser(store)
        seen = []
        before = None
        while page := await browser.latest_events(before=before, limit=2):
            seen += page
            before = page[-1].position

        everything = [e async for e in store.read_all()]
        assert [e.event_id for e in seen] == [e.event_id for e in reversed(everything)]
