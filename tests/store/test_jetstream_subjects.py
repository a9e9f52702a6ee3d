"""Stream ids and types as JetStream subject tokens: any text goes in, the same text comes
back, and each stream has exactly one subject."""

import uuid

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from eskit.errors import ConfigurationError
from eskit.store.jetstream.subjects import StoreNames, kv_key, token, untoken

pytestmark = pytest.mark.unit

NAMES = StoreNames("store")
AWKWARD = ["", "a.b", "a b", "*", ">", "a.>", "tab\there", "żółw", "🦀", "~", "~abc", "-", "_"]


@given(st.text())
@example("")
@example("orders.*.>")
def test_any_text_survives_the_round_trip_through_a_token(text: str) -> None:
    assert untoken(token(text)) == text


@given(st.text())
def test_a_token_is_one_subject_token_without_wildcards(text: str) -> None:
    made = token(text)
    assert made
    assert not set(made) & {".", "*", ">", " ", "\t", "\r", "\n"}
    assert made.isascii()


@given(st.text(), st.text())
@example("", "")
@example("a.b", "c")
def test_an_event_subject_names_its_stream_type_and_id(stream_type: str, stream_id: str) -> None:
    for first in (True, False):
        subject = NAMES.event_subject(stream_type, stream_id, first=first)
        assert subject.count(".") == 3
        assert NAMES.parse_event_subject(subject) == (stream_type, stream_id)


@pytest.mark.parametrize("awkward", AWKWARD)
def test_an_awkward_stream_id_is_matched_by_its_stream_filter_only(awkward: str) -> None:
    subject = NAMES.event_subject("t", awkward, first=False)
    assert subject.split(".")[2] == NAMES.stream_filter(awkward).split(".")[2]
    others = [other for other in AWKWARD if other != awkward]
    assert all(NAMES.stream_filter(other) != NAMES.stream_filter(awkward) for other in others)


@pytest.mark.parametrize(
    "written",
    [
        "~!!",  # not base64: decoding drops the strange characters and would find ""
        "~YWJj",  # "abc" spelled encoded, where the store writes it plain
        "~a",  # not a whole base64 unit
        "~_w",  # base64 of bytes that are not UTF-8
        "a!b",  # plain, but with a character the store always encodes
    ],
)
def test_a_token_the_store_never_writes_is_refused(written: str) -> None:
    with pytest.raises(ValueError, match="not a subject token"):
        untoken(written)
    assert NAMES.parse_event_subject(f"store.t.{written}.n") is None
    assert NAMES.parse_event_subject(f"store.{written}.s.1") is None


def test_a_subject_of_another_store_or_of_bookkeeping_names_no_stream() -> None:
    assert NAMES.parse_event_subject("other.t.s.n") is None
    assert NAMES.parse_event_subject(NAMES.id_subject(uuid.uuid4())) is None
    assert NAMES.parse_event_subject("store.t.s") is None
    assert NAMES.parse_event_subject("store.t.s.2") is None
    assert NAMES.parse_event_subject("store.t.s.n.extra") is None


@given(st.text(), st.text())
def test_different_texts_give_different_key_value_keys(first: str, second: str) -> None:
    if first != second:
        assert kv_key(first) != kv_key(second)


@pytest.mark.parametrize("name", ["", "a.b", "a b", "*", "ü"])
def test_a_store_name_that_is_not_a_plain_token_is_a_configuration_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match="letters, digits"):
        StoreNames(name)
