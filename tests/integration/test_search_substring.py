"""Substring search (trigram indexes) on SQLite and PostgreSQL: the same results from both."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from eskit.errors import ConfigurationError
from eskit.projections.search import SearchIndex, SearchWriter
from eskit.store import SQLiteEventStore, TransactionalStore, require_transactions
from eskit.store.postgres.sql import like_pattern
from eskit.store.rows import SearchQuery
from tests.integration.test_read_models import (
    CUSTOMERS,
    DOCS,
    fill_customers,
    found,
    found_or_refused,
    ids,
    in_index,
    reference,
    reference_keys,
)

pytestmark = pytest.mark.integration


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


def is_sqlite(db: TransactionalStore) -> bool:
    return db.committed.sql.placeholder == "?"


async def substrings(db: TransactionalStore, text: str, **options: Any) -> list[str]:
    return await found(db, text, match="substring", **options)


async def test_substrings_match_anywhere_in_words(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await substrings(db, "mith") == ids("c1")
    assert await substrings(db, "example") == ids("c1")  # in the e-mail address
    assert await substrings(db, "ali") == ids("c1", "c3")  # Alice, Alistair
    assert await substrings(db, "lic mit") == ids("c1")  # every word, anywhere
    assert await substrings(db, "lic tone") == []
    assert await substrings(db, "one") == ids("c2")  # Stone, stone.org
    assert await substrings(db, "icesmith") == []  # never across two words
    assert await substrings(db, "comalice") == []  # nor across two fields
    assert await substrings(db, "") == ids(*DOCS)
    assert await substrings(db, "zzz") == []


async def test_field_substring_search_looks_in_that_field_only(db: TransactionalStore) -> None:
    await fill_customers(db)
    assert await substrings(db, "xam", field="email") == ids("c1")
    assert await substrings(db, "xam", field="name") == []
    assert await substrings(db, "ear", field="name") == ids("c6")  # NEAR
    assert await substrings(db, "ear", field="email") == ids("c3")  # near.io
    assert await substrings(db, "ton", field="name") == ids("c2", "c4")  # Stone, Cotton
    assert await substrings(db, "ton", field="email") == ids("c2")
    assert await substrings(db, "mith ali", field="name") == ids("c1")
    assert await substrings(db, "mith ali", field="email") == []
    with pytest.raises(ValueError, match="'phone'"):
        await substrings(db, "abc", field="phone")


async def test_substrings_are_case_and_unicode_normalized(db: TransactionalStore) -> None:
    # Greek ODOS, upper case: lower() ends it with a final sigma
    greek = {"name": "\u039f\u0394\u039f\u03a3 Straße", "email": "g@x.io"}
    await fill_customers(db, {**DOCS, "c7": greek})
    assert await substrings(db, "MITH") == ids("c1")
    assert await substrings(db, "ØSKØ") == ids("c5")
    assert await substrings(db, "Zoe\u0308") == ids("c5")  # decomposed ë
    assert await substrings(db, "zoe") == []  # accents matter
    assert await substrings(db, "本語テ", field="name") == ids("c5")
    assert await substrings(db, "\u0394\u039f\u03a3") == ["g@x.io"]  # lower(): final sigma
    assert await substrings(db, "\u03b4\u03bf\u03c3") == []  # exact: sigma is no final sigma
    assert await substrings(db, "RASSE") == []  # lower(), not casefold(): ß stays ß
    assert await substrings(db, "RAß") == ["g@x.io"]


async def test_short_substring_words_are_refused(db: TransactionalStore) -> None:
    await fill_customers(db)
    for text in ("al", "smith a", "日本", "Zoë ab"):
        with pytest.raises(ValueError, match="at least 3 characters"):
            await substrings(db, text)
    assert await substrings(db, "%") == []  # characters, but no word: nothing
    assert await substrings(db, "") == ids(*DOCS)  # no text at all: everything
    assert await found(db, "al") == ids("c1", "c3")  # prefix words may be short
    with pytest.raises(ValueError, match="match must be one of"):
        await found(db, "alice", match="contains")


HOSTILE = [
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


async def test_hostile_substring_queries_are_only_words(db: TransactionalStore) -> None:
    await fill_customers(db)
    for text in HOSTILE:
        for field in (None, "name", "email"):
            expected = reference(text, field, "substring")
            got = await found_or_refused(db, text, field=field, match="substring")
            assert got == expected, (text, field)
    assert await substrings(db, "smi%zzz") == []  # % is no wildcard
    assert await substrings(db, "ice_smi") == ids("c1")  # two words, not a wildcard


LIKES = [  # a value, a word, whether the value holds the word
    ("100% pure", "0%", True),
    ("1000 pure", "0%", False),
    ("a_b", "a_b", True),
    ("axb", "a_b", False),
    ("a\\b", "a\\b", True),
    ("ab", "a\\b", False),
    ("a\\\\b", "a\\", True),
    ("a\\b", "\\\\", False),
]


async def test_postgres_like_patterns_take_wildcards_literally(db: TransactionalStore) -> None:
    """Words never hold these characters; should one ever do, LIKE must not see a wildcard."""
    if is_sqlite(db):
        pytest.skip("SQLite searches substrings with FTS5 phrases, not LIKE")
    sql = "SELECT %s LIKE %s ESCAPE '\\'"
    for value, word, like in LIKES:
        rows = await db.committed.sql.fetch(sql, (value, like_pattern(word)))
        assert bool(rows[0][0]) is like, word


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


async def test_substring_search_agrees_with_a_plain_python_reference(
    db: TransactionalStore,
) -> None:
    rng = random.Random(20240506)
    docs = random_docs(rng, 60)
    await fill_customers(db, docs)

    async def check() -> None:
        for _ in range(40):
            text = random_query(rng, docs)
            for field in (None, "name", "email"):
                for match in ("prefix", "word", "substring"):
                    try:
                        page = await CUSTOMERS.search(
                            db, text, field=field, match=match, limit=1000
                        )
                    except ValueError:
                        got: Any = ValueError
                    else:
                        got = [item["key"] for item in page.items]
                        assert page.total == len(got)
                    expected = reference_keys(text, field, match, docs)
                    assert got == expected, (text, field, match)

    await check()

    # change and delete some documents: their words and trigrams follow
    changed = random_docs(rng, len(docs))

    async def change(w: SearchWriter) -> None:
        for key in sorted(docs)[::3]:
            docs[key] = changed[key]
            await w.put(key, docs[key])
        for key in sorted(docs)[1::7]:
            del docs[key]
            await w.delete(key)

    await in_index(db, CUSTOMERS, change)
    await check()


async def plan(db: TransactionalStore, text: str, field: str | None) -> str:
    """The query plan of the adapter's substring search, sequential scans made unattractive."""
    query = SearchQuery(
        words=text.split(),
        fields=[field] if field else list(CUSTOMERS.text_fields),
        match="substring",
        limit=20,
        offset=0,
    )
    if is_sqlite(db):
        from eskit.store.sqlite import sql as sqlite_sql

        source, params = sqlite_sql.search_source(CUSTOMERS.name, query)
        page = sqlite_sql.search_page(source, ["m.id"])
        rows = await db.committed.sql.fetch(f"EXPLAIN QUERY PLAN {page}", [*params, 20, 0])
    else:
        from eskit.store.postgres import sql as pg_sql

        source, params = pg_sql.search_source(CUSTOMERS.name, query)
        page = pg_sql.search_page(source, ["m.id"])
        async with db.transaction() as tx:
            await tx.sql.execute("SET LOCAL enable_seqscan = off")
            rows = await tx.sql.fetch(f"EXPLAIN {page}", [*params, 20, 0])
    return "\n".join(" ".join(map(str, row)) for row in rows)


async def settle(db: TransactionalStore) -> None:
    """What autovacuum would do: move GIN pending lists into the index, gather statistics."""
    async with db.transaction() as tx:
        await tx.sql.fetch(
            "SELECT gin_clean_pending_list(indexrelid::regclass) FROM pg_index "
            "WHERE indrelid = 'customers_trgm'::regclass AND NOT indisprimary"
        )
        await tx.sql.execute("ANALYZE customers_trgm")
        await tx.sql.execute("ANALYZE customers")


async def test_substring_search_uses_the_trigram_index(db: TransactionalStore) -> None:
    docs = {
        f"d{n:04}": {"name": f"Name{n} Person{n * 7919 % 10007}", "email": f"p{n}@host{n % 50}.io"}
        for n in range(3000)
    }
    await fill_customers(db, docs)
    if not is_sqlite(db):
        await settle(db)
    searches = [("me123", None, 2), ("host17", "email", 1), ("name12 son77", "name", 1)]
    for text, field, scans in searches:
        explained = await plan(db, text, field=field)
        if is_sqlite(db):  # FTS5 finds the rows, the main table is read by rowid
            assert "SCAN customers_trgm VIRTUAL TABLE INDEX" in explained, explained
            assert "SEARCH m USING INTEGER PRIMARY KEY" in explained, explained
        else:  # a BitmapOr of a scan per field, or one scan for all words of one field
            scan = "Bitmap Index Scan on ix_customers_trgm_"
            assert explained.count(scan) == scans, explained
            assert "Seq Scan" not in explained, explained
        expected = reference_keys(text, field, "substring", docs)
        assert isinstance(expected, list)
        assert expected
        page = await CUSTOMERS.search(db, text, field=field, match="substring", limit=1000)
        assert (page.total, [item["name"] for item in page.items]) == (
            len(expected),
            [docs[key]["name"] for key in expected],
        )


async def test_substring_search_needs_sqlite_with_trigrams(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async with SQLiteEventStore.open(tmp_path / "old.db") as store:
        monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 33, 0))
        monkeypatch.setattr(sqlite3, "sqlite_version", "3.33.0")
        with pytest.raises(ConfigurationError, match=r"SQLite 3\.34\.0 or later.*3\.33\.0"):
            async with store.transaction() as tx:
                await CUSTOMERS.create(tx, "customers")
        assert not await store.committed.schema.exists("customers")


async def test_every_table_is_named(db: TransactionalStore) -> None:
    index = SearchIndex("things", ["title"])
    assert index.table_names("things__rebuild") == [
        "things__rebuild",
        "things__rebuild_fts",
        "things__rebuild_trgm",
    ]
    async with db.transaction() as tx:
        await index.create(tx, "things")
    for table in index.table_names("things"):
        assert await db.committed.schema.exists(table), table
