"""Read models in the SQLite file: tables, documents, search indexes, schema, plain SQL.

Each class runs its statements through a :class:`Runner`: inside a unit of work, directly
on the connection the writer lent it; for committed reads, on a reader thread. The same
code serves both (see ``eskit.store.rows`` for the contract).
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import orjson

from eskit.errors import ConfigurationError, DocumentConflictError
from eskit.store.rows import (
    Body,
    Document,
    DocumentChanges,
    Row,
    SearchEntry,
    SearchHits,
    SearchQuery,
    SearchShape,
    TableShape,
)
from eskit.store.sqlite import sql
from eskit.store.sqlite.values import from_column, to_column

__all__ = [
    "Runner",
    "SQLiteDocuments",
    "SQLiteRawSQL",
    "SQLiteSchema",
    "SQLiteSearch",
    "SQLiteTables",
]

T = TypeVar("T")
_MAX_PARAMS = 900  # below SQLite's old 999-variable limit
TRIGRAM_SINCE = (3, 34, 0)
"""The first SQLite whose FTS5 has the trigram tokenizer (substring search)."""


class Runner(Protocol):
    """Runs a function of the connection where the connection may be used."""

    def __call__(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]: ...


def _chunks(items: Sequence[T], width: int) -> Iterable[Sequence[T]]:
    size = max(1, _MAX_PARAMS // width)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _suffix() -> str:
    return secrets.token_hex(4)


def _execute_all(conn: sqlite3.Connection, statements: Iterable[str]) -> None:
    for statement in statements:
        conn.execute(statement)


class SQLiteTables:
    """See ``eskit.store.rows.TableSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def create(self, table: TableShape, base: str) -> None:
        """See TableSession.create."""
        statements = sql.create_table(base, table.columns, table.key, table.indexes, _suffix())
        await self._run(lambda conn: _execute_all(conn, statements))

    async def get_many(
        self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]
    ) -> list[Row]:
        """See TableReader.get_many."""
        return await self._run(lambda conn: _rows_by_key(conn, table, base, keys))

    async def upsert(self, table: TableShape, base: str, rows: Sequence[Row]) -> None:
        """See TableSession.upsert."""
        columns = list(table.columns.items())
        params = [[to_column(kind, row[c]) for c, kind in columns] for row in rows]
        statement = sql.upsert_rows(base, list(table.columns), table.key)
        await self._run(lambda conn: conn.executemany(statement, params))

    async def delete(self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]) -> None:
        """See TableSession.delete."""
        kinds = [table.columns[c] for c in table.key]
        params = [[to_column(k, v) for k, v in zip(kinds, key, strict=True)] for key in keys]
        statement = sql.delete_rows(base, table.key)
        await self._run(lambda conn: conn.executemany(statement, params))

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
        """See TableReader.select."""
        condition, params = sql.where_equal(where, to_column, table.columns)
        order = [] if order_by is None else [sql.order_term(order_by, descending)]
        order += [sql.order_term(c, descending and order_by is None) for c in table.key]
        statement = sql.select_rows(base, list(table.columns), condition, order)
        rows = await self._run(
            lambda conn: conn.execute(statement, [*params, limit, offset]).fetchall()
        )
        return [_decode(table, row) for row in rows]

    async def count(self, table: TableShape, base: str, where: Mapping[str, Any]) -> int:
        """See TableReader.count."""
        condition, params = sql.where_equal(where, to_column, table.columns)
        statement = sql.count_rows(base, condition)
        return int(await self._run(lambda conn: conn.execute(statement, params).fetchone()[0]))


def _rows_by_key(
    conn: sqlite3.Connection, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]
) -> list[Row]:
    kinds = [table.columns[c] for c in table.key]
    found: list[Row] = []
    for chunk in _chunks(keys, len(table.key)):
        params = [to_column(k, v) for key in chunk for k, v in zip(kinds, key, strict=True)]
        statement = sql.rows_by_key(base, list(table.columns), table.key, len(chunk))
        found += [_decode(table, row) for row in conn.execute(statement, params)]
    return found


def _decode(table: TableShape, values: Sequence[Any]) -> Row:
    return {
        c: from_column(kind, v) for (c, kind), v in zip(table.columns.items(), values, strict=True)
    }


class SQLiteDocuments:
    """See ``eskit.store.rows.DocumentSession``."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def create(self, base: str) -> None:
        """See DocumentSession.create."""
        statement = sql.create_documents(base)
        await self._run(lambda conn: conn.execute(statement))

    async def get_many(self, base: str, ids: Sequence[str]) -> list[Document]:
        """See DocumentReader.get_many."""

        def read(conn: sqlite3.Connection) -> list[Document]:
            found = []
            for chunk in _chunks(ids, 1):
                rows = conn.execute(sql.documents_by_id(base, len(chunk)), chunk)
                found += [Document(i, v, orjson.loads(b)) for i, v, b in rows]
            return found

        return await self._run(read)

    async def count(self, base: str) -> int:
        """See DocumentReader.count."""
        statement = sql.count_documents(base)
        return int(await self._run(lambda conn: conn.execute(statement).fetchone()[0]))

    async def all(self, base: str) -> list[Document]:
        """See DocumentReader.all."""
        statement = sql.all_documents(base)
        rows = await self._run(lambda conn: conn.execute(statement).fetchall())
        return [Document(i, v, orjson.loads(b)) for i, v, b in rows]

    async def write(self, collection: str, base: str, changes: DocumentChanges) -> None:
        """See DocumentSession.write."""
        await self._run(lambda conn: _write_documents(conn, collection, base, changes))


def _write_documents(
    conn: sqlite3.Connection, collection: str, base: str, changes: DocumentChanges
) -> None:
    if changes.updates:
        rows = [(body, doc_id, version) for doc_id, version, body in changes.updates]
        if conn.executemany(sql.update_document(base), rows).rowcount != len(rows):
            raise DocumentConflictError(collection, [u[0] for u in changes.updates])
    if changes.deletes:
        deleted = conn.executemany(sql.delete_document(base), changes.deletes).rowcount
        if deleted != len(changes.deletes):
            raise DocumentConflictError(collection, [d[0] for d in changes.deletes])
    if changes.inserts:
        inserted = conn.executemany(sql.insert_document(base), changes.inserts).rowcount
        if inserted != len(changes.inserts):
            raise DocumentConflictError(collection, [i[0] for i in changes.inserts])


class SQLiteSearch:
    """See ``eskit.store.rows.SearchSession``: FTS5 tables of words and of trigrams."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def create(self, index: SearchShape, base: str) -> None:
        """See SearchSession.create; needs FTS5's trigram tokenizer (SQLite 3.34)."""
        if sqlite3.sqlite_version_info < TRIGRAM_SINCE:
            needed = ".".join(map(str, TRIGRAM_SINCE))
            raise ConfigurationError(
                f"search indexes need SQLite {needed} or later (FTS5's trigram tokenizer, "
                f"for substring search); this Python uses SQLite {sqlite3.sqlite_version}"
            )
        statements = sql.create_search(
            base, index.text_fields, index.columns, list(index.sort_fields), _suffix()
        )
        await self._run(lambda conn: _execute_all(conn, statements))

    async def get_many(self, index: SearchShape, base: str, ids: Sequence[str]) -> dict[str, Body]:
        """See SearchReader.get_many."""

        def read(conn: sqlite3.Connection) -> dict[str, Body]:
            found: dict[str, Body] = {}
            for chunk in _chunks(ids, 1):
                for doc_id, body in conn.execute(sql.search_bodies(base, len(chunk)), chunk):
                    found[doc_id] = orjson.loads(body)
            return found

        return await self._run(read)

    async def find(self, index: SearchShape, base: str, query: SearchQuery) -> SearchHits:
        """See SearchReader.find."""
        source, params = sql.search_source(base, query)
        order = [] if query.sort is None else [sql.order_term(f"m.{query.sort}", query.descending)]
        order.append(sql.order_term("m.id", query.descending and query.sort is None))

        def read(conn: sqlite3.Connection) -> SearchHits:
            page = sql.search_page(source, order)
            rows = conn.execute(page, [*params, query.limit, query.offset]).fetchall()
            if rows:
                return SearchHits([orjson.loads(r[0]) for r in rows], int(rows[0][1]))
            if not query.offset:
                return SearchHits([], 0)
            # past the last match the window has no row to report the count on
            return SearchHits([], int(conn.execute(sql.search_count(source), params).fetchone()[0]))

        return await self._run(read)

    async def write(
        self, index: SearchShape, base: str, puts: Sequence[SearchEntry], deletes: Sequence[str]
    ) -> None:
        """See SearchSession.write."""
        await self._run(lambda conn: _write_search(conn, index, base, puts, deletes))


def _write_search(
    conn: sqlite3.Connection,
    index: SearchShape,
    base: str,
    puts: Sequence[SearchEntry],
    deletes: Sequence[str],
) -> None:
    # the old words go first, found through the main row while it still exists
    reworded = [(i,) for i in deletes] + [(p.id,) for p in puts if not p.same_words]
    for table in (f"{base}_fts", f"{base}_trgm"):
        conn.executemany(sql.forget_words(base, table), reworded)
    conn.executemany(sql.delete_search_document(base), [(i,) for i in deletes])
    columns = list(index.columns.items())
    conn.executemany(
        sql.upsert_search_document(base, [c for c, _ in columns]),
        [[p.id, p.body, *(to_column(k, p.columns[c]) for c, k in columns)] for p in puts],
    )
    # each text field's words joined by spaces: what both FTS5 tables index
    texts = [
        ([" ".join(p.words[f]) for f in index.text_fields], p.id) for p in puts if not p.same_words
    ]
    params = [(*words, doc_id) for words, doc_id in texts]
    fields = index.text_fields
    conn.executemany(sql.insert_words(base, f"{base}_fts", fields, with_id=True), params)
    conn.executemany(sql.insert_words(base, f"{base}_trgm", fields, with_id=False), params)


class SQLiteSchema:
    """See ``eskit.store.rows.SchemaSession``: one writer at a time, so nothing to lock."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def exists(self, table: str) -> bool:
        """See SchemaReader.exists."""
        return bool(
            await self._run(lambda conn: conn.execute(sql.TABLE_EXISTS, (table,)).fetchall())
        )

    async def guard(self, name: str) -> None:
        """See SchemaSession.guard: the write transaction excludes every other writer."""

    async def lock(self, tables: Sequence[str]) -> None:
        """See SchemaSession.lock: the write transaction excludes every other writer, and
        readers see the tables as they were until it commits."""

    async def drop(self, table: str) -> None:
        """See SchemaSession.drop."""
        await self._run(lambda conn: conn.execute(sql.drop_table(table)))

    async def rename(self, table: str, to: str) -> None:
        """See SchemaSession.rename."""
        await self._run(lambda conn: conn.execute(sql.rename_table(table, to)))


class SQLiteRawSQL:
    """See ``eskit.store.rows.SQLSession``: SQLite's own SQL, ``?`` placeholders."""

    placeholder = "?"

    def __init__(self, run: Runner) -> None:
        self._run = run

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """See SQLReader.fetch."""
        return await self._run(lambda conn: conn.execute(statement, params).fetchall())

    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """See SQLSession.execute."""
        return int(await self._run(lambda conn: conn.execute(statement, params).rowcount))

    async def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        """See SQLSession.executemany."""
        if not rows:
            return 0
        return int(await self._run(lambda conn: conn.executemany(statement, rows).rowcount))
