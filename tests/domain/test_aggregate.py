import pytest

from eskit.domain import Aggregate, Event, applies

pytestmark = pytest.mark.unit


class Added(Event):
    n: int


class Unhandled(Event):
    pass


class Counter(Aggregate):
    total: int = 0

    def add(self, n: int) -> None:
        self.record(Added(n=n))

    @applies(Added)
    def _added(self, event: Added) -> None:
        self.total += event.n


def test_recorded_events_are_applied_and_kept_pending() -> None:
    counter = Counter(id="c")
    counter.add(2)
    counter.add(3)
    assert counter.total == 5
    assert counter.version == 2
    assert counter.stored_version == 0
    assert counter.pending_events == (Added(n=2), Added(n=3))


def test_mark_saved_clears_pending_events() -> None:
    counter = Counter(id="c")
    counter.add(1)
    counter.mark_saved()
    assert counter.pending_events == ()
    assert counter.stored_version == 1


def test_an_event_without_handler_is_refused() -> None:
    with pytest.raises(TypeError, match="no handler for Unhandled"):
        Counter(id="c").apply(Unhandled())


def test_two_handlers_for_one_event_type_are_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match="two handlers"):

        class Broken(Aggregate):
            @applies(Added)
            def _one(self, event: Added) -> None: ...

            @applies(Added)
            def _two(self, event: Added) -> None: ...


def test_snapshot_round_trip_restores_state_and_version() -> None:
    counter = Counter(id="c")
    counter.add(4)
    restored = Counter.from_snapshot("c", counter.version, counter.snapshot_state())
    assert restored.total == 4
    assert restored.version == 1


def test_stream_type_defaults_to_the_class_name() -> None:
    assert Counter.stream_type == "Counter"


def test_events_are_immutable() -> None:
    event = Added(n=1)
    with pytest.raises(ValueError, match="frozen"):
        event.n = 2  # type: ignore[misc]
