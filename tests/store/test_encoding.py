import pytest

from eskit.domain import Event
from eskit.store import NewEvent
from eskit.store.encoding import MAX_EVENTS_PER_APPEND, encode_events

pytestmark = pytest.mark.unit


class Tick(Event):
    n: int


def test_an_oversized_append_is_refused_before_any_io() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_EVENTS_PER_APPEND}"):
        encode_events([Tick(n=0)] * (MAX_EVENTS_PER_APPEND + 1))


def test_the_same_event_id_twice_in_one_append_is_refused() -> None:
    event = NewEvent(Tick(n=0))
    with pytest.raises(ValueError, match="twice"):
        encode_events([event, event])


def test_call_metadata_is_merged_under_each_events_own() -> None:
    (encoded,) = encode_events(
        [NewEvent(Tick(n=1), metadata={"actor": "bob"})], {"actor": "x", "correlation_id": "c"}
    )
    assert encoded.metadata == '{"actor":"bob","correlation_id":"c"}'
    assert encoded.data == '{"n":1}'
    assert (encoded.event_type, encoded.schema_version) == ("Tick", 1)
