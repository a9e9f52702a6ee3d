"""Splitting text into search words."""

from __future__ import annotations

import pytest

from eskit.projections.search import words

pytestmark = pytest.mark.unit


def test_words_are_distinct_lower_cased_runs_of_letters_and_digits() -> None:
    assert words("Ada  Byron-King, ada@example.com") == ["ada", "byron", "king", "example", "com"]


def test_a_text_split_again_gives_the_same_words_in_a_list_of_its_own() -> None:
    first = words("Ada Byron")
    first.append("changed by the caller")
    assert words("Ada Byron") == ["ada", "byron"]


def test_long_texts_split_as_short_ones_do() -> None:
    long_text = " ".join(f"word{i}" for i in range(500))
    assert len(long_text) > 1_000
    assert words(long_text) == [f"word{i}" for i in range(500)]
    assert words(long_text.upper()) == words(long_text)
