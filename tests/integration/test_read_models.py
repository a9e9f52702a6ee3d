"""Tables and search indexes on SQLite and PostgreSQL: the same results from both."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

from eskit.projections.readmodel import SHADOW_SUFFIX, ReadModel
from eskit.projections.search import SearchIndex, SearchWriter
from eskit.projections.tables import Table, TableWriter
from eskit.store import (
    SQLiteEventStore,
    TransactionalStore,
    UnitOfWork,
    require_transactions,
)
from eskit.store.rows import Row, SearchEntry, SearchShape, TableShape

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TransactionalStore]:
    """A fresh store on each backend."""
    if request.param == "sqlite":
        async with SQLiteEventStore.open(tmp_path / "events.db") as sqlite_store:
            yield sqlite_store
    else:
        from eskit.store.postgres import PostgresEventStore

        url = request.getfixturevalue("postgres_url")
        async with PostgresEventStore.open(url) as pg_store:
            yield require_transactions(pg_store, "tests")


async def create(db: TransactionalStore, model: ReadModel, base: str | None = None) -> None:
    """Create ``model``'s tables (under ``base``, its name by default)."""
    async with db.transaction() as tx:
        await model.create(tx, base or model.name)


class Recording:
    """A unit of work whose table and search writes are noted: (what, number of rows)."""

    def __init__(self, tx: UnitOfWork) -> None:
        self.batches: list[tuple[str, int]] = []
        inner_tables, inner_search = tx.tables, tx.search
        recording = self

        class Tables:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner_tables, name)

            async def upsert(self, table: TableShape, base: str, rows: Sequence[Row]) -> None:
                recording.batches.append(("upsert", len(rows)))
                await inner_tables.upsert(table, base, rows)

            async def delete(
                self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]
            ) -> None:
                recording.batches.append(("delete", len(keys)))
                await inner_tables.delete(table, base, keys)

        class Search:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner_search, name)

            async def write(
                self,
                index: SearchShape,
                base: str,
                puts: Sequence[SearchEntry],
                deletes: Sequence[str],
            ) -> None:
                recording.batches.append(("write", len(puts) + len(deletes)))
                await inner_search.write(index, base, puts, deletes)

        self.tables = Tables()
        self.search = Search()


async def in_table(
    db: TransactionalStore, table: Table, work: Callable[[TableWriter], Awaitable[T]]
) -> T:
    """Run ``work`` on ``table``'s writer in one transaction, flushing at the end."""
    async with db.transaction() as tx:
        writer = table.bind(tx, table.name)
        result = await work(writer)
        await writer.flush()
        return result


async def in_index(
    db: TransactionalStore, index: SearchIndex, work: Callable[[SearchWriter], Awaitable[T]]
) -> T:
    """Run ``work`` on ``index``'s writer in one transaction, flushing at the end."""
    async with db.transaction() as tx:
        writer = index.bind(tx, index.name)
        result = await work(writer)
        await writer.flush()
        return result


# -- tables ----------------------------------------------------------------------------------

EVERYTHING = Table(
    "everything",
    {
        "id": str,
        "count": int,
        "ratio": float,
        "active": bool,
        "seen_at": datetime,
        "info": dict,
        "tags": list[str],
    },
    key=("id",),
)
PLUS_TWO = timezone(timedelta(hours=2))
ROW_ID = "ünïcode ✓ '\"%_"
FULL_ROW: dict[str, Any] = {
    "id": ROW_ID,
    "count": 2**62,
    "ratio": 0.1,
    "active": True,
    "seen_at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=PLUS_TWO),
    "info": {"nested": {"a": [1, 2.5, None, "x"]}, "flag": False},
    "tags": ["a", "b"],
}


def assert_exact(row: dict[str, Any] | None) -> None:
    assert row is not None
    assert row == {**FULL_ROW, "seen_at": datetime(2024, 5, 6, 5, 8, 9, 123456, tzinfo=UTC)}
    assert [type(v) for v in row.values()] == [str, int, float, bool, datetime, dict, list]
    assert row["seen_at"].utcoffset() == timedelta(0)


async def test_values_round_trip_with_their_types(db: TransactionalStore) -> None:
    await create(db, EVERYTHING)

    async def write(w: TableWriter) -> dict[str, Any] | None:
        await w.upsert(FULL_ROW)
        await w.upsert({"id": "bare", "active": False})
        return await w.get(ROW_ID)

    assert_exact(await in_table(db, EVERYTHING, write))
    assert_exact(await EVERYTHING.get(db, ROW_ID))
    assert_exact(await in_table(db, EVERYTHING, lambda w: w.get(ROW_ID)))
    bare = await EVERYTHING.get(db, "bare")
    assert bare == {"id": "bare", "active": False} | dict.fromkeys(
        ["count", "ratio", "seen_at", "info", "tags"]
    )
    assert bare is not None
    assert bare["active"] is False


LINES = Table(
    "order_lines",
    {"order_id": str, "line": int, "sku": str, "quantity": int},
    key=("order_id", "line"),
    indexes=[("sku",), ("order_id", "quantity")],
)


async def test_composite_keys(db: TransactionalStore) -> None:
    await create(db, LINES)

    async def write(w: TableWriter) -> None:
        for order, line, sku in [("o1", 1, "pen"), ("o1", 2, "ink"), ("o2", 1, "pen")]:
            await w.upsert({"order_id": order, "line": line, "sku": sku, "quantity": line})

    await in_table(db, LINES, write)
    assert await LINES.get(db, ("o1", 2)) == {
        "order_id": "o1",
        "line": 2,
        "sku": "ink",
        "quantity": 2,
    }
    assert await LINES.get(db, ("o2", 2)) is None

    async def change(w: TableWriter) -> list[dict[str, Any] | None]:
        await w.load_many([("o1", 1), ("o2", 1), ("o9", 9)])
        await w.delete(("o1", 1))
        await w.update(("o2", 1), quantity=7)
        return [await w.get(k) for k in [("o1", 1), ("o2", 1), ("o9", 9)]]

    got = await in_table(db, LINES, change)
    assert got[0] is None
    assert got[2] is None
    assert got[1] == {"order_id": "o2", "line": 1, "sku": "pen", "quantity": 7}
    rows = await LINES.select(db, where={"sku": "pen"})
    assert [(r["order_id"], r["line"], r["quantity"]) for r in rows] == [("o2", 1, 7)]
    assert await LINES.count(db) == 2
    with pytest.raises(ValueError, match="key"):
        await LINES.get(db, "o1")


async def test_a_batch_writes_each_changed_row_once(db: TransactionalStore) -> None:
    await create(db, LINES)

    async with db.transaction() as tx:
        recording = Recording(tx)
        w = LINES.bind(recording, LINES.name)  # type: ignore[arg-type]
        for quantity in range(3):
            await w.upsert({"order_id": "o", "line": 1, "sku": "pen", "quantity": quantity})
        assert await w.update(("o", 1), sku="ink") == {
            "order_id": "o",
            "line": 1,
            "sku": "ink",
            "quantity": 2,
        }
        await w.upsert({"order_id": "o", "line": 2, "sku": "gone", "quantity": 1})
        await w.delete(("o", 2))
        await w.delete(("o", 3))
        await w.flush()
        await w.flush()  # nothing left to write

    assert recording.batches == [("delete", 2), ("upsert", 1)]
    rows = await LINES.select(db)
    assert [(r["line"], r["sku"], r["quantity"]) for r in rows] == [(1, "ink", 2)]


async def test_update_of_a_missing_row_gives_none_and_writes_nothing(
    db: TransactionalStore,
) -> None:
    await create(db, LINES)
    assert await in_table(db, LINES, lambda w: w.update(("none", 1), quantity=1)) is None
    assert await LINES.count(db) == 0

    async def bad(w: TableWriter) -> None:
        await w.update(("none", 1), line=2)

    with pytest.raises(ValueError, match="key columns"):
        await in_table(db, LINES, bad)


PEOPLE = Table(
    "people",
    {"id": int, "name": str, "age": int, "joined": datetime},
    key="id",
    indexes=[("age",)],
)
JAN = datetime(2024, 1, 1, tzinfo=UTC)


async def fill_people(db: TransactionalStore) -> None:
    await create(db, PEOPLE)
    people = [(1, "b", 30), (2, "B", 20), (3, "a", 30), (4, "ä", None), (5, "c", 20)]

    async def write(w: TableWriter) -> None:
        for pid, name, age in people:
            await w.upsert({"id": pid, "name": name, "age": age, "joined": JAN + timedelta(pid)})

    await in_table(db, PEOPLE, write)


async def test_select_filters_sorts_and_pages(db: TransactionalStore) -> None:
    await fill_people(db)

    async def ids(**query: Any) -> list[int]:
        return [row["id"] for row in await PEOPLE.select(db, **query)]

    assert await ids() == [1, 2, 3, 4, 5]
    assert await ids(descending=True) == [5, 4, 3, 2, 1]
    # ties broken by key, NULLs last in both directions
    assert await ids(order_by="age") == [2, 5, 1, 3, 4]
    assert await ids(order_by="age", descending=True) == [1, 3, 2, 5, 4]
    # text sorts by code point: upper case, then lower case, then accented
    assert await ids(order_by="name") == [2, 3, 1, 5, 4]
    assert await ids(order_by="joined", descending=True) == [5, 4, 3, 2, 1]
    assert await ids(order_by="age", limit=2, offset=1) == [5, 1]
    assert await ids(where={"age": 30}) == [1, 3]
    assert await ids(where={"age": None}) == [4]
    assert await ids(where={"joined": JAN + timedelta(3)}) == [3]
    assert await ids(where={"name": "' OR 1=1 --"}) == []
    assert await PEOPLE.count(db, {"age": 20}) == 2
    assert await PEOPLE.count(db) == 5


async def test_deleted_rows_are_gone(db: TransactionalStore) -> None:
    await fill_people(db)

    async def remove(w: TableWriter) -> dict[str, Any] | None:
        await w.delete(1)
        await w.delete(99)
        return await w.get(1)

    assert await in_table(db, PEOPLE, remove) is None
    assert await PEOPLE.get(db, 1) is None
    assert await PEOPLE.count(db) == 4


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"id": "x", "count": "1"}, TypeError),
        ({"id": "x", "count": True}, TypeError),
        ({"id": "x", "active": 1}, TypeError),
        ({"id": "x", "ratio": float("nan")}, ValueError),
        ({"id": "x", "count": 2**63}, ValueError),
        ({"id": "x", "seen_at": datetime(2024, 1, 1)}, ValueError),
        ({"id": "x", "nope": 1}, ValueError),
        ({"id": "x\x00"}, ValueError),
        ({"count": 1}, ValueError),
    ],
)
async def test_bad_values_are_refused_before_any_sql(
    db: TransactionalStore, row: dict[str, Any], error: type[Exception]
) -> None:
    await create(db, EVERYTHING)
    with pytest.raises(error):
        await in_table(db, EVERYTHING, lambda w: w.upsert(row))
    assert await EVERYTHING.count(db) == 0


async def test_bad_queries_are_refused(db: TransactionalStore) -> None:
    await create(db, EVERYTHING)
    with pytest.raises(ValueError, match="'nope'"):
        await EVERYTHING.select(db, order_by="nope")
    with pytest.raises(ValueError, match="'info'"):
        await EVERYTHING.select(db, where={"info": {}})
    with pytest.raises(ValueError, match="limit"):
        await EVERYTHING.select(db, limit=0)
    with pytest.raises(ValueError, match="offset"):
        await EVERYTHING.select(db, offset=-1)


def test_table_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="no column"):
        Table("t", {"a": str}, key=("b",))
    with pytest.raises(ValueError, match="JSON"):
        Table("t", {"a": dict}, key=("a",))
    with pytest.raises(TypeError, match="bytes"):
        Table("t", {"a": str, "b": bytes}, key=("a",))
    with pytest.raises(ValueError, match="identifier"):
        Table("t", {"a; DROP": str}, key=("a; DROP",))


# -- search ----------------------------------------------------------------------------------

CUSTOMERS = SearchIndex(
    "customers",
    text_fields=["name", "email"],
    sort_fields={"balance": int, "joined": datetime},
)
DOCS: dict[str, dict[str, Any]] = {
    "c1": {"name": "Alice Smith", "email": "alice@example.com", "balance": 50, "joined": JAN},
    "c2": {"name": "Bob Stone", "email": "bob@stone.org", "balance": 20},
    "c3": {"name": "Carol Alistair", "email": "carol@near.io", "balance": 50},
    "c4": {"name": "100% Pure_Cotton OR Silk", "email": "shop@x.io", "balance": -5},
    "c5": {"name": "Zoë Ærøskøbing 日本語テキスト", "email": None},
    "c6": {"name": 'O\'Brien "Quote" {email}: NEAR(a b) *', "email": "ob@x.io", "balance": 20},
}


async def fill_customers(db: TransactionalStore, docs: dict[str, dict[str, Any]] = DOCS) -> None:
    await create(db, CUSTOMERS)

    async def write(w: SearchWriter) -> None:
        for doc_id, body in docs.items():
            await w.put(doc_id, body)

    await in_index(db, CUSTOMERS, write)


async def found(db: TransactionalStore, text: str = "", **options: Any) -> list[str]:
    page = await CUSTOMERS.search(db, text, limit=1000, **options)
    assert page.total == len(page.items)
    return [item["email"] or item["name"] for item in page.items]


def ids(*doc_ids: str) -> list[str]:
    return [DOCS[d]["email"] or DOCS[d]["name"] for d in doc_ids]


async def test_prefix_search_matches_the_beginnings_of_words(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await found(db, "ali") == ids("c1", "c3")
    assert await found(db, "smi ali") == ids("c1")
    assert await found(db, "ALI  smi!") == ids("c1")
    assert await found(db, "alice smith") == ids("c1")
    assert await found(db, "mith") == []
    assert await found(db, "zzz") == []
    assert await found(db, "") == ids(*DOCS)
    assert await found(db, "ex") == ids("c1")  # a word of the e-mail address


async def test_whole_word_search(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await found(db, "ali", match="word") == []
    assert await found(db, "alice", match="word") == ids("c1")
    assert await found(db, "Smith alice", match="word") == ids("c1")
    assert await found(db, "example com", match="word") == ids("c1")


async def test_field_search_looks_in_that_field_only(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await found(db, "alice@ex", field="email") == ids("c1")
    assert await found(db, "exa", field="name") == []
    assert await found(db, "exa", field="email") == ids("c1")
    assert await found(db, "stone", field="name") == ids("c2")
    assert await found(db, "stone", field="email", match="word") == ids("c2")
    assert await found(db, "near", field="name") == ids("c6")
    assert await found(db, "near", field="email") == ids("c3")
    assert await found(db, "", field="email") == ids(*DOCS)
    with pytest.raises(ValueError, match="'phone'"):
        await found(db, "x", field="phone")


async def test_sorting_breaks_ties_by_id_and_puts_missing_values_last(
    db: TransactionalStore,
) -> None:
    await fill_customers(db)
    assert await found(db, sort="balance") == ids("c4", "c2", "c6", "c1", "c3", "c5")
    assert await found(db, sort="balance", descending=True) == ids(
        "c1", "c3", "c2", "c6", "c4", "c5"
    )
    assert await found(db, "a", sort="balance", descending=True) == ids("c1", "c3", "c6")
    # text sorts by code point on both backends: digits, then capitals, then the rest
    assert await found(db, sort="name") == ids("c4", "c1", "c2", "c3", "c6", "c5")
    assert await found(db, sort="joined") == ids("c1", "c2", "c3", "c4", "c5", "c6")
    assert await found(db, descending=True) == ids(*reversed(DOCS))
    with pytest.raises(ValueError, match="'nope'"):
        await found(db, sort="nope")


async def test_pages_and_total(db: TransactionalStore) -> None:
    docs = {
        f"d{n:02}": {"name": f"Item {n}", "email": f"i{n}@x.io", "balance": n % 3}
        for n in range(25)
    }
    await fill_customers(db, docs)
    pages = [
        await CUSTOMERS.search(db, "item", sort="balance", limit=10, offset=o) for o in (0, 10, 20)
    ]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert {p.total for p in pages} == {25}
    seen = [item["email"] for p in pages for item in p.items]
    expected = sorted(docs, key=lambda d: (docs[d]["balance"], d))
    assert seen == [docs[d]["email"] for d in expected]
    past = await CUSTOMERS.search(db, "item", limit=10, offset=30)
    assert (past.items, past.total, past.limit, past.offset) == ([], 25, 10, 30)
    assert (await CUSTOMERS.search(db, "nothing", offset=5)).total == 0
    assert (await CUSTOMERS.search(db, "i1", field="email", limit=3)).total == 11
    for limit, offset in [(0, 0), (1001, 0), (10, -1)]:
        with pytest.raises(ValueError, match=r"limit|offset"):
            await CUSTOMERS.search(db, limit=limit, offset=offset)


async def test_unicode_text(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await found(db, "zo") == ids("c5")
    assert await found(db, "ZOË ærø") == ids("c5")
    assert await found(db, "Zoe\u0308", match="word") == ids("c5")  # decomposed ë
    assert await found(db, "zoe") == []  # accents matter, alike on both backends
    assert await found(db, "日本") == ids("c5")
    assert await found(db, "日本語テキスト", match="word", field="name") == ids("c5")


def split_words(value: str) -> list[str]:
    """Words as the documentation describes them: runs of letters and digits, lower-cased."""
    cleaned = "".join(
        c if c.isalnum() else " " for c in unicodedata.normalize("NFC", value).lower()
    )
    return cleaned.split()


def word_matches(word: str, have: str, match: str) -> bool:
    """Whether query word ``word`` matches word ``have`` of a document."""
    if match == "prefix":
        return have.startswith(word)
    return have == word if match == "word" else word in have


def reference_keys(
    text: str, field: str | None, match: str, docs: dict[str, dict[str, Any]]
) -> list[str] | type[ValueError]:
    """What the documented semantics say a search finds (keys of ``docs``, in key order),
    worked out in plain Python; ValueError when the search must be refused (substring words
    shorter than 3 characters). Text with characters but no word in them finds nothing, as a
    full-text engine whose analyzer leaves no token; empty text finds everything.
    """
    wanted = split_words(text)
    if match == "substring" and any(len(w) < 3 for w in wanted):
        return ValueError
    if not wanted and text.strip():
        return []

    def hits(body: dict[str, Any]) -> bool:
        fields = [field] if field else ["name", "email"]
        have = [h for f in fields for h in split_words(body.get(f) or "")]
        return all(any(word_matches(w, h, match) for h in have) for w in wanted)

    return sorted(key for key, body in docs.items() if hits(body))


def reference(text: str, field: str | None, match: str) -> list[str] | type[ValueError]:
    """``reference_keys`` over ``DOCS``, as ``found`` reports them."""
    keys = reference_keys(text, field, match, DOCS)
    return ids(*keys) if isinstance(keys, list) else keys


async def found_or_refused(db: TransactionalStore, text: str, **options: Any) -> Any:
    """What ``found`` gives, or ValueError if the search is refused for its short words."""
    try:
        return await found(db, text, **options)
    except ValueError as error:
        refusal = str(error)
    assert "at least 3 characters" in refusal
    return ValueError


HOSTILE = [
    "'",
    '"',
    "%",
    "_",
    "a%",
    "a_i",
    "100%",
    "pure_cot",
    "' OR 1=1 --",
    "'); DROP TABLE customers; --",
    "OR",
    "ali OR bob",
    "NEAR",
    "NEAR(ali smi)",
    "near",
    "*",
    "ali*",
    '"ali"',
    '"ali" "smi"',
    "name:ali",
    "email : bob",
    "{email}: ali",
    "-ali",
    "^ali",
    "ali AND NOT bob",
    "\\",
    ":*",
    "ali:* | bob:*",
    "&|!()",
    "o'brien",
    '"quote"',
    "\x00",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_queries_are_only_words(db: TransactionalStore, text: str) -> None:
    await fill_customers(db)
    for field in (None, "name", "email"):
        for match in ("prefix", "word", "substring"):
            expected = reference(text, field, match)
            got = await found_or_refused(db, text, field=field, match=match)
            assert got == expected, (field, match)


async def test_some_hostile_queries_in_particular(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await found(db, "ali OR bob") == []  # OR is a word to match, not an operator
    assert await found(db, "or", match="word") == ids("c4")
    assert await found(db, "or") == ids("c2", "c4")  # and "org"
    assert await found(db, "pure_cot") == ids("c4")
    assert await found(db, "l_ce") == []  # _ is no wildcard (as LIKE would have it)
    assert await found(db, "name:ali") == []  # nor is : a column filter
    assert await found(db, "o'brien") == ids("c6")
    assert await found(db, "%") == []  # characters but no word: nothing
    assert await found(db, "  ") == ids(*DOCS)  # no characters but spaces: everything, as ""


async def test_put_replaces_words_and_delete_removes_them(db: TransactionalStore) -> None:
    await fill_customers(db)

    async def change(w: SearchWriter) -> list[dict[str, Any] | None]:
        await w.put("c1", {**DOCS["c1"], "name": "Alicia Jones"})
        await w.delete("c2")
        await w.put("c9", {"name": "Temporary", "email": "t@x.io"})
        await w.delete("c9")
        return [await w.get("c1"), await w.get("c2"), await w.get("c9")]

    got = await in_index(db, CUSTOMERS, change)
    assert got[0] is not None
    assert got[0]["name"] == "Alicia Jones"
    assert got[0]["joined"] == "2024-01-01T00:00:00+00:00"  # as JSON gives it back
    assert got[1:] == [None, None]
    assert await found(db, "smith") == []
    assert await found(db, "jones") == ids("c1")
    assert await found(db, "bob") == []
    assert await found(db, "temporary") == []
    assert await CUSTOMERS.get(db, "c2") is None
    assert (await CUSTOMERS.search(db)).total == 5


async def test_a_search_batch_writes_each_document_once(db: TransactionalStore) -> None:
    await create(db, CUSTOMERS)

    async with db.transaction() as tx:
        recording = Recording(tx)
        w = CUSTOMERS.bind(recording, CUSTOMERS.name)  # type: ignore[arg-type]
        for n in range(3):
            await w.put("c1", {"name": f"Name{n}", "email": "e@x.io", "balance": n})
        assert await w.get("c1") == {"name": "Name2", "email": "e@x.io", "balance": 2}
        await w.flush()

    assert recording.batches == [("write", 1)]
    assert await found(db, "name2") == ["e@x.io"]
    assert await found(db, "name1") == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": 5}, TypeError),
        ({"balance": "5"}, TypeError),
        ({"balance": 1.5}, TypeError),
        ({"joined": "yesterday"}, ValueError),
        ({"joined": "2024-01-01T00:00:00"}, ValueError),  # no time zone
        ({"name": "nul\x00"}, ValueError),
    ],
)
async def test_bad_documents_are_refused_before_any_sql(
    db: TransactionalStore, body: dict[str, Any], error: type[Exception]
) -> None:
    await create(db, CUSTOMERS)
    with pytest.raises(error):
        await in_index(db, CUSTOMERS, lambda w: w.put("x", body))
    assert (await CUSTOMERS.search(db)).total == 0


async def test_bad_searches_and_definitions_are_refused(db: TransactionalStore) -> None:
    await create(db, CUSTOMERS)
    with pytest.raises(ValueError, match="at most"):
        await CUSTOMERS.search(db, " ".join(f"w{n}" for n in range(40)))
    with pytest.raises(ValueError, match="id"):
        SearchIndex("s", ["id"])
    with pytest.raises(ValueError, match="twice"):
        SearchIndex("s", ["name"], {"Name": str})
    with pytest.raises(ValueError, match="JSON"):
        SearchIndex("s", ["name"], {"tags": list})


# -- rebuilds --------------------------------------------------------------------------------


async def swap_in(db: TransactionalStore, model: ReadModel) -> None:
    """What a rebuild does at its end: drop the live tables, rename the shadow ones in."""
    shadow = model.name + SHADOW_SUFFIX

    async with db.transaction() as tx:
        for table in model.table_names(model.name):
            await tx.schema.drop(table)
        for old, new in zip(model.table_names(shadow), model.table_names(model.name), strict=True):
            await tx.schema.rename(old, new)


@pytest.mark.parametrize("model", [LINES, CUSTOMERS], ids=["table", "search"])
async def test_shadow_tables_swap_in_again_and_again(
    db: TransactionalStore, model: ReadModel
) -> None:
    await create(db, model)
    for round_ in range(3):
        shadow = model.name + SHADOW_SUFFIX
        await create(db, model, shadow)

        async with db.transaction() as tx:
            writer = model.bind(tx, shadow)
            if isinstance(writer, TableWriter):
                await writer.upsert({"order_id": "o", "line": round_, "sku": "pen"})
            else:
                await writer.put(f"c{round_}", {"name": f"Round{round_}", "email": None})
            await writer.flush()
        await swap_in(db, model)
    if isinstance(model, Table):
        assert [r["line"] for r in await model.select(db)] == [2]
    else:
        assert [i["name"] for i in (await CUSTOMERS.search(db, "round")).items] == ["Round2"]
        page = await CUSTOMERS.search(db, "ound", match="substring")
        assert [i["name"] for i in page.items] == ["Round2"]
