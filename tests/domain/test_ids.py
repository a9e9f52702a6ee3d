import uuid

import pytest

from eskit.domain import derive_uuid7, new_id, uuid7

pytestmark = pytest.mark.unit


def test_uuid7_has_version_7_and_rfc_variant() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122


def test_uuid7_values_strictly_increase_within_a_process() -> None:
    values = [uuid7() for _ in range(10_000)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_derived_ids_are_stable_distinct_and_keep_the_base_timestamp() -> None:
    base = uuid7()
    first, second = derive_uuid7(base, 0), derive_uuid7(base, 1)
    assert derive_uuid7(base, 0) == first
    assert first != second
    assert first.version == 7
    assert first.int >> 80 == base.int >> 80


def test_new_ids_are_uuid7_strings_that_increase() -> None:
    values = [new_id() for _ in range(1_000)]
    assert [str(uuid.UUID(v)) for v in values] == values
    assert all(uuid.UUID(v).version == 7 for v in values)
    assert values == sorted(values)


def test_ids_are_equal_and_hash_as_parsed_uuids() -> None:
    value = uuid7()
    parsed = uuid.UUID(str(value))
    assert value == parsed
    assert hash(value) == hash(parsed)
    assert {value: 1}[parsed] == 1
