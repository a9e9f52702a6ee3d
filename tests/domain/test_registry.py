from typing import Any

import pytest

from eskit.domain import Event, EventRegistry
from eskit.errors import EventSchemaError, UnknownEventTypeError

pytestmark = pytest.mark.unit


class Renamed(Event):
    event_type = "test.Renamed"
    schema_version = 3
    full_name: str
    age: int


def test_unknown_event_type_names_the_type_and_the_position() -> None:
    registry = EventRegistry()
    with pytest.raises(UnknownEventTypeError) as caught:
        registry.decode("test.Nope", 1, {}, position=42)
    assert "test.Nope" in str(caught.value)
    assert "42" in str(caught.value)
    assert caught.value.position == 42


def test_upcasters_lift_old_versions_step_by_step() -> None:
    registry = EventRegistry([Renamed])

    @registry.upcaster("test.Renamed", 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"full_name": f"{data.pop('first')} {data.pop('last')}"}

    @registry.upcaster("test.Renamed", 2)
    def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "age": 0}

    event = registry.decode("test.Renamed", 1, {"first": "Ada", "last": "Lovelace"})
    assert event == Renamed(full_name="Ada Lovelace", age=0)


def test_a_missing_upcaster_step_is_a_schema_error() -> None:
    registry = EventRegistry([Renamed])
    with pytest.raises(EventSchemaError, match="no upcaster from schema version 2"):
        registry.decode("test.Renamed", 2, {"full_name": "x"}, position=7)


def test_a_version_newer_than_the_code_is_a_schema_error() -> None:
    registry = EventRegistry([Renamed])
    with pytest.raises(EventSchemaError, match="newer"):
        registry.decode("test.Renamed", 4, {"full_name": "x", "age": 1})


def test_stored_data_that_does_not_fit_names_the_fields() -> None:
    registry = EventRegistry([Renamed])
    with pytest.raises(EventSchemaError, match="age") as caught:
        registry.decode("test.Renamed", 3, {"full_name": "x", "age": "old"}, position=9)
    assert caught.value.position == 9


def test_a_taken_type_name_cannot_be_registered_to_another_class() -> None:
    class Other(Event):
        event_type = "test.Renamed"

    registry = EventRegistry([Renamed])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Other)


def test_an_alias_reads_a_renamed_type() -> None:
    registry = EventRegistry([Renamed])
    registry.alias("test.OldName", "test.Renamed")
    assert registry.decode("test.OldName", 3, {"full_name": "x", "age": 1}).age == 1


def test_stored_text_that_is_not_json_is_a_schema_error_naming_the_position() -> None:
    registry = EventRegistry([Renamed])
    with pytest.raises(EventSchemaError, match="position 5") as caught:
        registry.decode("test.Renamed", 3, '{"full_name": ', position=5)
    assert caught.value.event_type == "test.Renamed"


def test_json_text_is_decoded_like_a_dict() -> None:
    registry = EventRegistry([Renamed])
    text = '{"full_name": "x", "age": 1}'
    assert registry.decode("test.Renamed", 3, text) == Renamed(full_name="x", age=1)
