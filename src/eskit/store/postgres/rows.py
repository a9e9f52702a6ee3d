"""Read models in the PostgreSQL database: tables, documents, search indexes, schema, SQL.

Each class sends its statements through an :class:`Executor`: inside a unit of work, the
transaction's connection; for committed reads, the store's pool. The same code serves both
(see ``eskit.store.rows`` for the contract).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from eskit.errors import DocumentConflictError
from eskit.store.postgres import sql
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

__all__ = [
    "Executor",
    "PostgresDocuments",
    "PostgresRawSQL",
    "PostgresSchema",
    "PostgresSearch",
    "PostgresTables",
    "from_column",
    "to_column",
]

_MAX_PARAMS = 30_000  # composite keys are spliced as (a, b) pairs; PostgreSQL allows 65,535


class Executor(Protocol):
    """Where statements go: a transaction's connection, or the pool."""

    async def fetch(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        """The rows of one statement."""
        ...

    async def execute(self, statement: str, params: Any = None) -> int:
        """Run one statement; the number of rows it changed."""
        ...

    async def executemany(self, statement: str, rows: Sequence[Any]) -> int:
        """Run one statement per row of parameters (pipelined); the rows changed in all."""
        ...


def to_column(kind: type, value: Any) -> Any:
    """A checked read-model value as a parameter: JSON as text (cast in the statement)."""
    if value is not None and (kind is dict or kind is list):
        return orjson.dumps(value).decode()
    return value


def from_column(kind: type, value: Any) -> Any:
    """A stored read-model value as its column's Python type."""
    if value is None:
        return None
    if kind is datetime:
        return value.astimezone(UTC)
    if (kind is dict or kind is list) and isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def _suffix() -> str:
    return secrets.token_hex(4)


class PostgresTables:
    """See ``eskit.store.rows.TableSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def create(self, table: TableShape, base: str) -> None:
        """See TableSession.create."""
        for statement in sql.create_table(base, table.columns, table.key, table.indexes, _suffix()):
            await self._run.execute(statement)

    async def get_many(
        self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]
    ) -> list[Row]:
        """See TableReader.get_many."""
        if not keys:
            return []
        kinds = [table.columns[c] for c in table.key]
        columns = list(table.columns)
        found: list[Row] = []
        if len(table.key) == 1:
            values = [to_column(kinds[0], key[0]) for key in keys]
            rows = await self._run.fetch(sql.rows_by_key(base, columns, table.key, 1), (values,))
            return [_decode(table, row) for row in rows]
        size = max(1, _MAX_PARAMS // len(table.key))
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            params = [to_column(k, v) for key in chunk for k, v in zip(kinds, key, strict=True)]
            statement = sql.rows_by_key(base, columns, table.key, len(chunk))
            found += [_decode(table, row) for row in await self._run.fetch(statement, params)]
        return found

    async def upsert(self, table: TableShape, base: str, rows: Sequence[Row]) -> None:
        """See TableSession.upsert."""
        if rows:
            columns = list(table.columns.items())
            params = [[to_column(kind, row[c]) for c, kind in columns] for row in rows]
            await self._run.executemany(sql.upsert_rows(base, table.columns, table.key), params)

    async def delete(self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]) -> None:
        """See TableSession.delete."""
        if keys:
            kinds = [table.columns[c] for c in table.key]
            params = [[to_column(k, v) for k, v in zip(kinds, key, strict=True)] for key in keys]
            await self._run.executemany(sql.delete_rows(base, table.key), params)

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
        rows = await self._run.fetch(statement, [*params, limit, offset])
        return [_decode(table, row) for row in rows]

    async def count(self, table: TableShape, base: str, where: Mapping[str, Any]) -> int:
        """See TableReader.count."""
        condition, params = sql.where_equal(where, to_column, table.columns)
        rows = await self._run.fetch(sql.count_rows(base, condition), params or None)
        return int(rows[0][0])


def _decode(table: TableShape, values: Sequence[Any]) -> Row:
    return {
        c: from_column(kind, v) for (c, kind), v in zip(table.columns.items(), values, strict=True)
    }


def _body(value: Any) -> Body:
    return value if isinstance(value, dict) else orjson.loads(value)


class PostgresDocuments:
    """See ``eskit.store.rows.DocumentSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def create(self, base: str) -> None:
        """See DocumentSession.create."""
        await self._run.execute(sql.create_documents(base))

    async def get_many(self, base: str, ids: Sequence[str]) -> list[Document]:
        """See DocumentReader.get_many."""
        if not ids:
            return []
        rows = await self._run.fetch(sql.documents_by_id(base), (list(ids),))
        return [Document(i, v, _body(b)) for i, v, b in rows]

    async def count(self, base: str) -> int:
        """See DocumentReader.count."""
        return int((await self._run.fetch(sql.count_documents(base)))[0][0])

    async def all(self, base: str) -> list[Document]:
        """See DocumentReader.all."""
        rows = await self._run.fetch(sql.all_documents(base))
        return [Document(i, v, _body(b)) for i, v, b in rows]

    async def write(self, collection: str, base: str, changes: DocumentChanges) -> None:
        """See DocumentSession.write."""
        run = self._run
        if changes.updates:
            rows = [(body, doc_id, version) for doc_id, version, body in changes.updates]
            if await run.executemany(sql.update_document(base), rows) != len(rows):
                raise DocumentConflictError(collection, [u[0] for u in changes.updates])
        if changes.deletes:
            deleted = await run.executemany(sql.delete_document(base), changes.deletes)
            if deleted != len(changes.deletes):
                raise DocumentConflictError(collection, [d[0] for d in changes.deletes])
        if changes.inserts:
            inserted = await run.executemany(sql.insert_document(base), changes.inserts)
            if inserted != len(changes.inserts):
                raise DocumentConflictError(collection, [i[0] for i in changes.inserts])


class PostgresSearch:
    """See ``eskit.store.rows.SearchSession``: a tsvector of tagged words, and trigrams."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def create(self, index: SearchShape, base: str) -> None:
        """See SearchSession.create."""
        for statement in sql.create_search(
            base, index.text_fields, index.columns, list(index.sort_fields), _suffix()
        ):
            await self._run.execute(statement)

    async def get_many(self, index: SearchShape, base: str, ids: Sequence[str]) -> dict[str, Body]:
        """See SearchReader.get_many."""
        if not ids:
            return {}
        rows = await self._run.fetch(sql.search_bodies(base), (list(ids),))
        return {doc_id: _body(body) for doc_id, body in rows}

    async def find(self, index: SearchShape, base: str, query: SearchQuery) -> SearchHits:
        """See SearchReader.find."""
        source, params = sql.search_source(base, query)
        order = [] if query.sort is None else [sql.order_term(f"m.{query.sort}", query.descending)]
        order.append(sql.order_term("m.id", query.descending and query.sort is None))
        rows = await self._run.fetch(
            sql.search_page(source, order), [*params, query.limit, query.offset]
        )
        if rows:
            return SearchHits([_body(r[0]) for r in rows], int(rows[0][1]))
        if not query.offset:
            return SearchHits([], 0)
        # past the last match the window has no row to report the count on
        counted = await self._run.fetch(sql.search_count(source), params or None)
        return SearchHits([], int(counted[0][0]))

    async def write(
        self, index: SearchShape, base: str, puts: Sequence[SearchEntry], deletes: Sequence[str]
    ) -> None:
        """See SearchSession.write."""
        run = self._run
        gone = [(i,) for i in deletes]
        if gone:
            for table in (base, f"{base}_fts", f"{base}_trgm"):
                await run.executemany(sql.delete_by_id(table), gone)
        if not puts:
            return
        columns = list(index.columns.items())
        await run.executemany(
            sql.upsert_search_document(base, index.columns),
            [[p.id, p.body, *(to_column(k, p.columns[c]) for c, k in columns)] for p in puts],
        )
        reworded = [p for p in puts if not p.same_words]
        if not reworded:
            return
        await run.executemany(sql.upsert_words(base), [(p.id, _lexemes(p)) for p in reworded])
        await run.executemany(
            sql.upsert_trigrams(base, index.text_fields),
            [(p.id, *(" ".join(p.words[f]) for f in index.text_fields)) for p in reworded],
        )


def _lexemes(entry: SearchEntry) -> list[str]:
    """The tsvector lexemes: each word tagged with its field (``email:alice``)."""
    return [f"{field}:{word}" for field, words in entry.words.items() for word in words]


class PostgresSchema:
    """See ``eskit.store.rows.SchemaSession``."""

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def exists(self, table: str) -> bool:
        """See SchemaReader.exists."""
        return bool((await self._run.fetch(sql.TABLE_EXISTS, (table,)))[0][0])

    async def guard(self, name: str) -> None:
        """See SchemaSession.guard: a transaction-level advisory lock on ``name``."""
        await self._run.fetch(sql.GUARD, (name,))

    async def lock(self, tables: Sequence[str]) -> None:
        """See SchemaSession.lock: ACCESS EXCLUSIVE, in the order given."""
        for table in tables:
            if await self.exists(table):
                await self._run.execute(sql.lock_table(table))

    async def drop(self, table: str) -> None:
        """See SchemaSession.drop."""
        await self._run.execute(sql.drop_table(table))

    async def rename(self, table: str, to: str) -> None:
        """See SchemaSession.rename."""
        await self._run.execute(sql.rename_table(table, to))


class PostgresRawSQL:
    """See ``eskit.store.rows.SQLSession``: PostgreSQL's own SQL, ``%s`` placeholders."""

    placeholder = "%s"

    def __init__(self, run: Executor) -> None:
        self._run = run

    async def fetch(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """See SQLReader.fetch."""
        return await self._run.fetch(statement, params or None)

    async def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """See SQLSession.execute."""
        return await self._run.execute(statement, params or None)

    async def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        """See SQLSession.executemany."""
        return await self._run.executemany(statement, rows) if rows else 0
