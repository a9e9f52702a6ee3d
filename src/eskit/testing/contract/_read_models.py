"""What the read-model contracts share: definitions, fills, and a reference of search results.

Private to ``eskit.testing.contract``.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar, cast

from eskit.projections.readmodel import SHADOW_SUFFIX, ReadModel
from eskit.projections.search import SearchIndex, SearchWriter
from eskit.projections.tables import Table, TableWriter
from eskit.store import TransactionalStore, UnitOfWork
from eskit.store.rows import (
    Row,
    SearchEntry,
    SearchHits,
    SearchQuery,
    SearchSession,
    SearchShape,
    TableSession,
    TableShape,
)

T = TypeVar("T")


async def create(db: TransactionalStore, model: ReadModel, base: str | None = None) -> None:
    """Create ``model``'s tables (under ``base``, its name by default)."""
    async with db.transaction() as tx:
        await model.create(tx, base or model.name)


class RecordingTables:
    """A table session that notes every write: ("upsert" or "delete", number of rows)."""

    def __init__(self, inner: TableSession, notes: list[tuple[str, int]]) -> None:
        self.inner = inner
        self.notes = notes

    async def create(self, table: TableShape, base: str) -> None:
        await self.inner.create(table, base)

    async def get_many(
        self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]
    ) -> list[Row]:
        return await self.inner.get_many(table, base, keys)

    async def upsert(self, table: TableShape, base: str, rows: Sequence[Row]) -> None:
        self.notes.append(("upsert", len(rows)))
        await self.inner.upsert(table, base, rows)

    async def delete(self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]) -> None:
        self.notes.append(("delete", len(keys)))
        await self.inner.delete(table, base, keys)

    async def select(
        self,
        table: TableShape,
        base: str,
        *,
        where: Mapping[str, Any],
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
    ) -> list[Row]:
        return await self.inner.select(
            table,
            base,
            where=where,
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    async def count(self, table: TableShape, base: str, where: Mapping[str, Any]) -> int:
        return await self.inner.count(table, base, where)


class RecordingSearch:
    """A search session that notes every write: ("write", documents put or deleted)."""

    def __init__(self, inner: SearchSession, notes: list[tuple[str, int]]) -> None:
        self.inner = inner
        self.notes = notes

    async def create(self, index: SearchShape, base: str) -> None:
        await self.inner.create(index, base)

    async def get_many(self, index: SearchShape, base: str, ids: Sequence[str]) -> dict[str, Any]:
        return await self.inner.get_many(index, base, ids)

    async def find(self, index: SearchShape, base: str, query: SearchQuery) -> SearchHits:
        return await self.inner.find(index, base, query)

    async def write(
        self, index: SearchShape, base: str, puts: Sequence[SearchEntry], deletes: Sequence[str]
    ) -> None:
        self.notes.append(("write", len(puts) + len(deletes)))
        await self.inner.write(index, base, puts, deletes)


class Recording:
    """What a read-model writer sees of a unit of work, with every write noted."""

    def __init__(self, tx: UnitOfWork) -> None:
        self.batches: list[tuple[str, int]] = []
        self.tables = RecordingTables(tx.tables, self.batches)
        self.search = RecordingSearch(tx.search, self.batches)

    def as_unit_of_work(self) -> UnitOfWork:
        """This object where a writer wants a unit of work (writers use only these parts)."""
        return cast(UnitOfWork, self)


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


LINES = Table(
    "order_lines",
    {"order_id": str, "line": int, "sku": str, "quantity": int},
    key=("order_id", "line"),
    indexes=[("sku",), ("order_id", "quantity")],
)


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


async def swap_in(db: TransactionalStore, model: ReadModel) -> None:
    """What a rebuild does at its end: drop the live tables, rename the shadow ones in."""
    shadow = model.name + SHADOW_SUFFIX

    async with db.transaction() as tx:
        for table in model.table_names(model.name):
            await tx.schema.drop(table)
        for old, new in zip(model.table_names(shadow), model.table_names(model.name), strict=True):
            await tx.schema.rename(old, new)


async def substrings(db: TransactionalStore, text: str, **options: Any) -> list[str]:
    return await found(db, text, match="substring", **options)


SUBSTRING_HOSTILE = [
    "100%",
    "%mit%",
    "mit%ith",
    "smi%zzz",
    "ice%smi",
    "ice_smi",
    "pure_cot",
    "ali\\ce",
    "lic\\",
    "\\\\mit",
    "'mith'",
    '"exa"',
    "o'brien",
    "bri'",
    "' OR 1=1 --",
    "mith' OR 'abc'='abc",
    "mith%' OR '1'='1",
    "{email}: ali",
    "NEAR(ali smi)",
    "quote*",
    "ali:* | bob:*",
    "[abc]",
    "ab?c*",
]


ALPHABET = "abcdeäéß日本 %_\\'\"-.@e\u0301\u03c3\u03c2\u03a3\u039f"  # and Greek sigmas, omicron


def random_text(rng: random.Random) -> str:
    syllables = ["al", "ice", "smi", "th", "bo", "ston", "e", "car", "ol", "xa", "mp", "le"]
    parts = [rng.choice(syllables) if rng.random() < 0.7 else rng.choice(ALPHABET)]
    for _ in range(rng.randrange(12)):
        parts.append(rng.choice(syllables) if rng.random() < 0.7 else rng.choice(ALPHABET))
    text = "".join(parts)
    return text.upper() if rng.random() < 0.2 else text


def random_query(rng: random.Random, docs: dict[str, dict[str, Any]]) -> str:
    if rng.random() < 0.3:
        return random_text(rng)
    body = docs[rng.choice(sorted(docs))]
    source: str = rng.choice([body["name"], body["email"] or "x"])
    start = rng.randrange(len(source))
    piece = source[start : start + rng.randrange(3, 8)]
    return piece.swapcase() if rng.random() < 0.3 else piece


def random_docs(rng: random.Random, count: int) -> dict[str, dict[str, Any]]:
    return {
        f"r{n:03}": {
            "key": f"r{n:03}",
            "name": random_text(rng),
            "email": None if rng.random() < 0.1 else random_text(rng),
            "balance": rng.randrange(3),
        }
        for n in range(count)
    }
