"""Read-model definitions are checked when they are made, before any store sees them."""

import pytest

from eskit.projections import SearchIndex, Table

pytestmark = pytest.mark.unit


def test_table_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="no column"):
        Table("t", {"a": str}, key=("b",))
    with pytest.raises(ValueError, match="JSON"):
        Table("t", {"a": dict}, key=("a",))
    with pytest.raises(TypeError, match="bytes"):
        Table("t", {"a": str, "b": bytes}, key=("a",))
    with pytest.raises(ValueError, match="identifier"):
        Table("t", {"a; DROP": str}, key=("a; DROP",))


def test_search_index_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="id"):
        SearchIndex("s", ["id"])
    with pytest.raises(ValueError, match="twice"):
        SearchIndex("s", ["name"], {"Name": str})
    with pytest.raises(ValueError, match="JSON"):
        SearchIndex("s", ["name"], {"tags": list})
