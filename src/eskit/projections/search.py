"""A search index read model: JSON documents by id, found by the words of some of their fields.

::

    CUSTOMERS = SearchIndex("customers", text_fields=["name", "email"], sort_fields={"balance": int})

    # in a projection handler
    await ctx.writer(CUSTOMERS).put(customer_id, {"name": "Alice Smith", "balance": 50, ...})

    # in a query
    page = await CUSTOMERS.search(db, "ali smi", sort="balance", descending=True, limit=20)

What matches is the same on both backends, because both index the same words, cut in
Python by :func:`words`: runs of letters and digits, lower-cased. Every word of the query
must begin (``prefix=True``) or be (``prefix=False``) a word of the text fields, or of the
one ``field`` asked for; a query without words matches every document. Query text is
only ever turned into such words, so no character of it reaches SQL or a search syntax.

On SQLite the words live in an FTS5 table ``<name>_fts`` (its rowid is the main table's
``seq``). On PostgreSQL ``<name>_fts`` holds a tsvector of the words, each tagged with its
field (``email:alice``) so that one GIN index serves both all-field and one-field searches;
lexemes are built in Python (``array_to_tsvector``, a ``::tsquery`` parameter) rather than
by the server's text parser, whose idea of a word differs from FTS5's and from locale to
locale.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from eskit.projections.database import ReadDatabase
from eskit.projections.readmodel import check_identifier, unique_suffix
from eskit.projections.session import Dialect, Session
from eskit.projections.tables import (
    check_page,
    chunks,
    column_type,
    index_name,
    is_json,
    normalize,
    order_term,
    placeholder,
    sql_type,
    to_sql,
)

__all__ = ["MAX_QUERY_WORDS", "SearchIndex", "SearchPage", "SearchWriter", "words"]

Body = dict[str, Any]

MAX_WORD = 100
"""Words are cut to this many characters (PostgreSQL refuses very long lexemes)."""
MAX_QUERY_WORDS = 32
"""A query may have at most this many distinct words."""

_WORD = re.compile(r"[^\W_]+")  # \w without "_": exactly the characters str.isalnum accepts
_RESERVED = {"id", "body", "seq", "words", "rowid", "oid", "rank"}  # own or SQLite/FTS5 columns


def words(text: str) -> list[str]:
    """The distinct words of ``text`` in order: runs of letters and digits, lower-cased.

    Text is NFC-normalized first, so composed and decomposed accents give the same words.
    """
    normal = unicodedata.normalize("NFC", text).lower()
    return list(dict.fromkeys(word[:MAX_WORD] for word in _WORD.findall(normal)))


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results: the documents, and how many matched in all."""

    items: list[Body]
    total: int
    limit: int
    offset: int


class SearchIndex:
    """The definition of a search index: documents by id, with text and sort fields.

    ``text_fields`` are the body keys whose (string) values are searched and can be sorted
    on; ``sort_fields`` are body keys kept as typed columns for sorting (``str``, ``int``,
    ``float``, ``bool``, ``datetime``; datetimes may be stored in the body as ISO strings).
    """

    def __init__(
        self,
        name: str,
        text_fields: Sequence[str],
        sort_fields: Mapping[str, type] | None = None,
    ) -> None:
        self.name = check_identifier(name)
        self.text_fields = tuple(check_identifier(field) for field in text_fields)
        self.sort_fields: dict[str, type] = {
            check_identifier(field): _sort_type(field, kind)
            for field, kind in (sort_fields or {}).items()
        }
        self._check_fields()

    def _check_fields(self) -> None:
        fields = [field.lower() for field in (*self.text_fields, *self.sort_fields)]
        if not self.text_fields:
            raise ValueError(f"search index {self.name} needs at least one text field")
        if len(set(fields)) != len(fields):
            raise ValueError(f"search index {self.name}: a field is named twice")
        if _RESERVED & set(fields):
            raise ValueError(
                f"search index {self.name}: fields cannot be named {sorted(_RESERVED & set(fields))}"
            )

    @property
    def columns(self) -> dict[str, type]:
        """The typed columns kept beside the body: text fields, then sort fields."""
        return {**dict.fromkeys(self.text_fields, str), **self.sort_fields}

    # -- ReadModel ---------------------------------------------------------------------------

    def table_names(self, base: str) -> list[str]:
        """See ReadModel.table_names: the documents, and their words."""
        return [base, f"{base}_fts"]

    def create_sql(self, dialect: Dialect, base: str) -> list[str]:
        """See ReadModel.create_sql."""
        base, suffix = check_identifier(base), unique_suffix()
        typed = "".join(f", {c} {sql_type(dialect, kind)}" for c, kind in self.columns.items())
        sorts = [
            f"CREATE INDEX {index_name(base, str(n), suffix)} ON {base} ({field}, id)"
            for n, field in enumerate(self.sort_fields)
        ]
        if dialect == "sqlite":
            fields = ", ".join(self.text_fields)
            return [
                # seq is the FTS row's rowid; an alias of rowid, so VACUUM keeps it
                f"CREATE TABLE {base} (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
                f"body TEXT NOT NULL{typed})",
                f"CREATE UNIQUE INDEX {index_name(base, 'id', suffix)} ON {base} (id)",
                *sorts,
                f"CREATE VIRTUAL TABLE {base}_fts USING fts5({fields}, id UNINDEXED, "
                "tokenize = 'unicode61 remove_diacritics 0')",
            ]
        return [
            f'CREATE TABLE {base} (id text COLLATE "C" NOT NULL, body jsonb NOT NULL{typed}, '
            f"CONSTRAINT {index_name(base, 'pk', suffix)} PRIMARY KEY (id))",
            *sorts,
            f'CREATE TABLE {base}_fts (id text COLLATE "C" NOT NULL, words tsvector NOT NULL, '
            f"CONSTRAINT {index_name(base, 'fpk', suffix)} PRIMARY KEY (id))",
            f"CREATE INDEX {index_name(base, 'words', suffix)} ON {base}_fts USING gin (words)",
        ]

    def bind(self, session: Session, base: str) -> SearchWriter:
        """See ReadModel.bind."""
        return SearchWriter(session, self, check_identifier(base))

    # -- queries (outside projections) -------------------------------------------------------

    async def get(self, db: ReadDatabase, doc_id: str) -> Body | None:
        """The committed document ``doc_id``, if any."""
        mark = "?" if db.dialect == "sqlite" else "%s"
        rows = await db.query(f"SELECT body FROM {self.name} WHERE id = {mark}", (doc_id,))
        return _body(rows[0][0]) if rows else None

    async def search(
        self,
        db: ReadDatabase,
        text: str = "",
        *,
        field: str | None = None,
        prefix: bool = True,
        sort: str | None = None,
        descending: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchPage:
        """Committed documents matching ``text``, one page of them, and the number of matches.

        Every word of ``text`` must match a word of the text fields (only of ``field`` when
        given): as its beginning when ``prefix``, else whole. Results are sorted by ``sort``
        (a sort or text field; NULLs last) and then by id.
        """
        check_page(limit, offset)
        order = [] if sort is None else [order_term(f"m.{self._sort_column(sort)}", descending)]
        order.append(order_term("m.id", descending and sort is None))
        source, params = self._source(db.dialect, self._query_words(text, field), field, prefix)
        mark = "?" if db.dialect == "sqlite" else "%s"
        rows = await db.query(
            f"SELECT m.body, count(*) OVER () {source} ORDER BY {', '.join(order)} "
            f"LIMIT {mark} OFFSET {mark}",
            [*params, limit, offset],
        )
        if rows:
            total = int(rows[0][1])
        else:  # past the last match the window has no row to report the count on
            total = (
                int((await db.query(f"SELECT count(*) {source}", params))[0][0]) if offset else 0
            )
        return SearchPage([_body(row[0]) for row in rows], total, limit, offset)

    def _sort_column(self, sort: str) -> str:
        if sort not in self.sort_fields and sort not in self.text_fields:
            fields = ", ".join((*self.sort_fields, *self.text_fields))
            raise ValueError(f"cannot sort {self.name} by {sort!r}; sortable fields: {fields}")
        return sort

    def _query_words(self, text: str, field: str | None) -> list[str]:
        if field is not None and field not in self.text_fields:
            fields = ", ".join(self.text_fields)
            raise ValueError(f"{self.name} has no text field {field!r}; text fields: {fields}")
        found = words(text)
        if len(found) > MAX_QUERY_WORDS:
            raise ValueError(f"a search may have at most {MAX_QUERY_WORDS} words")
        return found

    def _source(
        self, dialect: Dialect, found: list[str], field: str | None, prefix: bool
    ) -> tuple[str, list[Any]]:
        """The FROM and WHERE of a search, and their parameters."""
        base = f"FROM {self.name} AS m"
        if not found:
            return base, []
        fts = f"{self.name}_fts"
        if dialect == "sqlite":
            match = _fts5_query(found, field, prefix)
            return f"{base} JOIN {fts} ON {fts}.rowid = m.seq WHERE {fts} MATCH ?", [match]
        query = _tsquery(found, [field] if field else self.text_fields, prefix)
        return f"{base} JOIN {fts} AS f ON f.id = m.id WHERE f.words @@ %s::tsquery", [query]


def _sort_type(field: str, kind: Any) -> type:
    base = column_type(field, kind)
    if is_json(base):
        raise ValueError(f"sort field {field!r} cannot be JSON")
    return base


def _body(value: Any) -> Body:
    return value if isinstance(value, dict) else orjson.loads(value)


def _fts5_query(found: list[str], field: str | None, prefix: bool) -> str:
    """An FTS5 MATCH expression: each word a quoted string, so never an operator."""
    column = f"{{{field}}} : " if field else ""
    star = "*" if prefix else ""
    return " AND ".join(f'{column}"{word.replace(chr(34), chr(34) * 2)}"{star}' for word in found)


def _tsquery(found: list[str], fields: Sequence[str], prefix: bool) -> str:
    """A tsquery: every word, as a tagged lexeme of any of ``fields``."""
    star = ":*" if prefix else ""
    return " & ".join(
        "(" + " | ".join(f"{_quote(f'{field}:{word}')}{star}" for field in fields) + ")"
        for word in found
    )


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# -- the writer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Put:
    """A document as it will be written: every value checked when it was put."""

    body: str
    columns: dict[str, Any]  # text and sort fields, normalized
    words: dict[str, list[str]]  # by text field


@dataclass(slots=True)
class _Entry:
    body: Body | None  # None: no such document (as loaded, or deleted in this batch)
    put: _Put | None = None
    dirty: bool = False


class SearchWriter:
    """A search index inside one projection transaction. Reads see the batch's own writes.

    Each changed document is written once, in :meth:`flush`, with its words.
    """

    def __init__(self, session: Session, index: SearchIndex, base: str) -> None:
        self.session = session
        self.index = index
        self.base = base
        self.fts = f"{base}_fts"
        self._entries: dict[str, _Entry] = {}

    async def load_many(self, ids: Iterable[str]) -> None:
        """Fetch these documents in few queries (a prefetch for the batch's handlers)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._entries]
        for doc_id in wanted:
            self._entries[doc_id] = _Entry(None)
        for chunk in chunks(wanted, 1):
            marks = ", ".join([self.session.mark] * len(chunk))
            rows = await self.session.fetch(
                f"SELECT id, body FROM {self.base} WHERE id IN ({marks})", chunk
            )
            for doc_id, body in rows:
                self._entries[doc_id] = _Entry(_body(body))

    async def get(self, doc_id: str) -> Body | None:
        """The document as this batch last left it, or None (put it back to change it)."""
        if doc_id not in self._entries:
            await self.load_many((doc_id,))
        return self._entries[doc_id].body

    async def put(self, doc_id: str, body: Mapping[str, Any]) -> None:
        """Create or replace the document; its text and sort fields are read from ``body``."""
        normalize("id", str, doc_id)
        encoded = orjson.dumps(dict(body))
        if b"\\u0000" in encoded:
            raise ValueError(f"{self.index.name}/{doc_id}: PostgreSQL cannot store NUL characters")
        stored: Body = orjson.loads(encoded)  # the body as reads will give it back
        columns = {c: _field(c, kind, stored.get(c)) for c, kind in self.index.columns.items()}
        found = {f: words(columns[f] or "") for f in self.index.text_fields}
        self._entries[doc_id] = _Entry(stored, _Put(encoded.decode(), columns, found), True)

    async def delete(self, doc_id: str) -> None:
        """Remove the document (nothing happens if it does not exist)."""
        self._entries[doc_id] = _Entry(None, dirty=True)

    async def flush(self) -> None:
        """Write every changed document and its words once."""
        dirty = {doc_id: e for doc_id, e in self._entries.items() if e.dirty}
        if not dirty:
            return
        puts = {doc_id: e.put for doc_id, e in dirty.items() if e.put is not None}
        deletes = [doc_id for doc_id, e in dirty.items() if e.put is None]
        if self.session.dialect == "sqlite":
            await self._flush_sqlite(list(dirty), deletes, puts)
        else:
            await self._flush_postgres(deletes, puts)
        for entry in dirty.values():
            entry.dirty, entry.put = False, None

    async def _flush_sqlite(
        self, changed: list[str], deletes: list[str], puts: dict[str, _Put]
    ) -> None:
        s = self.session
        # the old words go first, found through the main row while it still exists
        await s.executemany(
            f"DELETE FROM {self.fts} WHERE rowid = (SELECT seq FROM {self.base} WHERE id = ?)",
            [(doc_id,) for doc_id in changed],
        )
        await s.executemany(f"DELETE FROM {self.base} WHERE id = ?", [(i,) for i in deletes])
        await s.executemany(self._upsert_sql(), [self._row(i, p) for i, p in puts.items()])
        fields = self.index.text_fields
        await s.executemany(
            f"INSERT INTO {self.fts} (rowid, id, {', '.join(fields)}) "
            f"SELECT seq, id, {', '.join(['?'] * len(fields))} FROM {self.base} WHERE id = ?",
            [(*(" ".join(p.words[f]) for f in fields), i) for i, p in puts.items()],
        )

    async def _flush_postgres(self, deletes: list[str], puts: dict[str, _Put]) -> None:
        s = self.session
        for table in (self.base, self.fts):
            await s.executemany(f"DELETE FROM {table} WHERE id = %s", [(i,) for i in deletes])
        await s.executemany(self._upsert_sql(), [self._row(i, p) for i, p in puts.items()])
        await s.executemany(
            f"INSERT INTO {self.fts} (id, words) VALUES (%s, array_to_tsvector(%s::text[])) "
            "ON CONFLICT (id) DO UPDATE SET words = excluded.words",
            [(i, _lexemes(p.words)) for i, p in puts.items()],
        )

    def _row(self, doc_id: str, put: _Put) -> list[Any]:
        dialect = self.session.dialect
        typed = [to_sql(dialect, kind, put.columns[c]) for c, kind in self.index.columns.items()]
        return [doc_id, put.body, *typed]

    def _upsert_sql(self) -> str:
        dialect, columns = self.session.dialect, ["id", "body", *self.index.columns]
        marks = [self.session.mark, placeholder(dialect, dict)]
        marks += [placeholder(dialect, kind) for kind in self.index.columns.values()]
        changes = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        return (
            f"INSERT INTO {self.base} ({', '.join(columns)}) VALUES ({', '.join(marks)}) "
            f"ON CONFLICT (id) DO UPDATE SET {changes}"
        )


def _field(field: str, kind: type, value: Any) -> Any:
    """A body value for a typed column; datetimes may come as ISO strings (as JSON has them)."""
    if kind is datetime and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"field {field!r}: {value!r} is not an ISO datetime") from None
    return normalize(field, kind, value)


def _lexemes(found: dict[str, list[str]]) -> list[str]:
    """The tsvector lexemes: each word tagged with its field (``email:alice``)."""
    return [f"{field}:{word}" for field, field_words in found.items() for word in field_words]
