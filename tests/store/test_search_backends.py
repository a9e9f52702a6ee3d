"""Search on each backend's own terms: query plans that use the trigram indexes, LIKE
patterns on PostgreSQL, the SQLite version substring search needs.

What every backend must do alike is in ``eskit.testing.contract.SearchContract``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eskit.errors import ConfigurationError
from eskit.store import SQLiteEventStore, TransactionalStore, require_transactions
from eskit.store.postgres.sql import like_pattern
from eskit.store.rows import SearchQuery
from eskit.testing.contract._read_models import CUSTOMERS, fill_customers, reference_keys

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
