"""A search index read model: JSON documents by id, found by the words of some of their fields.

::

    CUSTOMERS = SearchIndex("customers", text_fields=["name", "email"], sort_fields={"balance": int})

    # in a projection handler
    await ctx.writer(CUSTOMERS).put(customer_id, {"name": "Alice Smith", "balance": 50, ...})

    # in a query
    page = await CUSTOMERS.search(db, "ali smi", sort="balance", descending=True, limit=20)
    page = await CUSTOMERS.search(db, "mith", match="substring")

What matches is the same on both backends, because both index the same words, cut in
Python by :func:`words`: runs of letters and digits, lower-cased. Every word of the query
must begin (``match="prefix"``, the default), be (``match="word"``) or occur anywhere in
(``match="substring"``) a word of the text fields, or of the one ``field`` asked for; a
query without words matches every document. Substring search needs query words of at
least :data:`MIN_SUBSTRING` characters, as trigram indexes cannot serve shorter ones. Query
text is only ever turned into such words, so no character of it reaches SQL or a search
syntax.

On SQLite the words live in an FTS5 table ``<name>_fts`` (its rowid is the main table's
``seq``). On PostgreSQL ``<name>_fts`` holds a tsvector of the words, each tagged with its
field (``email:alice``) so that one GIN index serves both all-field and one-field searches;
lexemes are built in Python (``array_to_tsvector``, a ``::tsquery`` parameter) rather than
by the server's text parser, whose idea of a word differs from FTS5's and from locale to
locale.

For substring search ``<name>_trgm`` holds each text field's words joined by spaces, one
column per field: on SQLite an FTS5 table with the case-sensitive ``trigram`` tokenizer
(SQLite 3.34 or later), searched with a phrase per query word (its trigrams, in a row); on
PostgreSQL a table with a ``gin_trgm_ops`` GIN index (``pg_trgm``), searched with
``LIKE '%word%'``. The text is lower-cased in Python already, so both compare code points
exactly, and as a query word holds no space it can only match inside one word.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import orjson

from eskit.errors import ConfigurationError, InvalidCommandError
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

__all__ = [
    "MAX_QUERY_WORDS",
    "MIN_SUBSTRING",
    "Match",
    "SearchIndex",
    "SearchPage",
    "SearchQueryError",
    "SearchWriter",
    "words",
]

Body = dict[str, Any]
Match = Literal["prefix", "word", "substring"]
"""How a query word matches a word of the text: its beginning, all of it, or any part."""
_MATCHES: tuple[Match, ...] = get_args(Match)

MAX_WORD = 100
"""Words are cut to this many characters (PostgreSQL refuses very long lexemes)."""
MAX_QUERY_WORDS = 32
"""A query may have at most this many distinct words."""
MIN_SUBSTRING = 3
"""Substring search needs query words of at least this many characters (one trigram)."""
SQLITE_TRIGRAM = (3, 34, 0)
"""The first SQLite whose FTS5 has the trigram tokenizer."""

_WORD = re.compile(r"[^\W_]+")  # \w without "_": exactly the characters str.isalnum accepts
_RESERVED = {"id", "body", "seq", "words", "rowid", "oid", "rank"}  # own or SQLite/FTS5 columns


def words(text: str) -> list[str]:
    """The distinct words of ``text`` in order: runs of letters and digits, lower-cased.

    Text is NFC-normalized first, so composed and decomposed accents give the same words.
    """
    if len(text) <= _REMEMBERED_TEXT:
        return list(_remembered_words(text))
    return _split(text)


_REMEMBERED_TEXT = 1_000
"""Texts up to this many characters have their words remembered (see below)."""


@functools.lru_cache(maxsize=4_096)
def _remembered_words(text: str) -> tuple[str, ...]:
    # a document's text rarely changes between its puts (every deposit puts the account
    # back with the same name and e-mail): split each short text once, not at every put
    return tuple(_split(text))


def _split(text: str) -> list[str]:
    normal = unicodedata.normalize("NFC", text).lower()
    return list(dict.fromkeys(word[:MAX_WORD] for word in _WORD.findall(normal)))


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results: the documents, and how many matched in all."""

    items: list[Body]
    total: int
    limit: int
    offset: int


class SearchQueryError(InvalidCommandError, ValueError):
    """The text of a search cannot be served (too many words, too short for substrings).

    It is the caller's input that is wrong, so interfaces answer it as invalid input (422,
    INVALID_ARGUMENT) naming the ``search`` field.
    """

    def __init__(self, message: str) -> None:
        super().__init__("search", [{"loc": ["search"], "message": message}])
        self.message = f"invalid search: {message}"
        self.args = (self.message,)


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
        """See ReadModel.table_names: the documents, their words, their words' trigrams."""
        return [base, f"{base}_fts", f"{base}_trgm"]

    def create_sql(self, dialect: Dialect, base: str) -> list[str]:
        """See ReadModel.create_sql."""
        base, suffix = check_identifier(base), unique_suffix()
        typed = "".join(f", {c} {sql_type(dialect, kind)}" for c, kind in self.columns.items())
        sorts = [
            f"CREATE INDEX {index_name(base, str(n), suffix)} ON {base} ({field}, id)"
            for n, field in enumerate(self.sort_fields)
        ]
        fields = ", ".join(self.text_fields)
        if dialect == "sqlite":
            _check_sqlite_trigram()
            return [
                # seq is the FTS row's rowid; an alias of rowid, so VACUUM keeps it
                f"CREATE TABLE {base} (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, "
                f"body TEXT NOT NULL{typed})",
                f"CREATE UNIQUE INDEX {index_name(base, 'id', suffix)} ON {base} (id)",
                *sorts,
                f"CREATE VIRTUAL TABLE {base}_fts USING fts5({fields}, id UNINDEXED, "
                "tokenize = 'unicode61 remove_diacritics 0')",
                # case-sensitive: the text is lower-cased already, and folding it again
                # (final sigma and the like) would match more than PostgreSQL does
                f"CREATE VIRTUAL TABLE {base}_trgm USING fts5({fields}, "
                "tokenize = 'trigram case_sensitive 1')",
            ]
        texts = "".join(f', {field} text COLLATE "C" NOT NULL' for field in self.text_fields)
        trigrams = ", ".join(f"{field} gin_trgm_ops" for field in self.text_fields)
        return [
            f'CREATE TABLE {base} (id text COLLATE "C" NOT NULL, body jsonb NOT NULL{typed}, '
            f"CONSTRAINT {index_name(base, 'pk', suffix)} PRIMARY KEY (id))",
            *sorts,
            f'CREATE TABLE {base}_fts (id text COLLATE "C" NOT NULL, words tsvector NOT NULL, '
            f"CONSTRAINT {index_name(base, 'fpk', suffix)} PRIMARY KEY (id))",
            f"CREATE INDEX {index_name(base, 'words', suffix)} ON {base}_fts USING gin (words)",
            f'CREATE TABLE {base}_trgm (id text COLLATE "C" NOT NULL{texts}, '
            f"CONSTRAINT {index_name(base, 'tpk', suffix)} PRIMARY KEY (id))",
            # one multicolumn GIN index serves a search of any one field or of them all
            f"CREATE INDEX {index_name(base, 'trgm', suffix)} ON {base}_trgm "
            f"USING gin ({trigrams})",
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
        match: Match = "prefix",
        sort: str | None = None,
        descending: bool = False,
        limit: int = 20,
        offset: int = 0,
    ) -> SearchPage:
        """Committed documents matching ``text``, one page of them, and the number of matches.

        Every word of ``text`` must match a word of the text fields (only of ``field`` when
        given): as its beginning (``match="prefix"``), whole (``"word"``) or as any part of
        it (``"substring"``, for query words of at least :data:`MIN_SUBSTRING` characters;
        a shorter one is a ValueError). Results are sorted by ``sort`` (a sort or text field;
        NULLs last) and then by id.
        """
        check_page(limit, offset)
        order = [] if sort is None else [order_term(f"m.{self._sort_column(sort)}", descending)]
        order.append(order_term("m.id", descending and sort is None))
        found = self._query_words(text, field, match)
        source, params = self._source(db.dialect, found, field, match)
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

    def _query_words(self, text: str, field: str | None, match: Match) -> list[str]:
        if match not in _MATCHES:
            raise ValueError(f"match must be one of {', '.join(_MATCHES)}, not {match!r}")
        if field is not None and field not in self.text_fields:
            fields = ", ".join(self.text_fields)
            raise ValueError(f"{self.name} has no text field {field!r}; text fields: {fields}")
        found = words(text)
        if len(found) > MAX_QUERY_WORDS:
            raise SearchQueryError(f"a search may have at most {MAX_QUERY_WORDS} words")
        short = [word for word in found if len(word) < MIN_SUBSTRING]
        if match == "substring" and short:
            raise SearchQueryError(
                f"substring search needs words of at least {MIN_SUBSTRING} characters "
                f"(trigram indexes cannot serve shorter ones), not {short[0]!r}"
            )
        return found

    def _source(
        self, dialect: Dialect, found: list[str], field: str | None, match: Match
    ) -> tuple[str, list[Any]]:
        """The FROM and WHERE of a search, and their parameters."""
        base = f"FROM {self.name} AS m"
        if not found:
            return base, []
        fields = [field] if field else list(self.text_fields)
        if match == "substring":
            trgm = f"{self.name}_trgm"
            if dialect == "sqlite":
                query = _fts5_query(found, field, match)
                return f"{base} JOIN {trgm} ON {trgm}.rowid = m.seq WHERE {trgm} MATCH ?", [query]
            likes = " OR ".join(f"t.{f} LIKE %s ESCAPE '\\'" for f in fields)
            where = " AND ".join([f"({likes})"] * len(found))
            params = [_like_pattern(word) for word in found for _ in fields]
            return f"{base} JOIN {trgm} AS t ON t.id = m.id WHERE {where}", params
        fts = f"{self.name}_fts"
        if dialect == "sqlite":
            query = _fts5_query(found, field, match)
            return f"{base} JOIN {fts} ON {fts}.rowid = m.seq WHERE {fts} MATCH ?", [query]
        query = _tsquery(found, fields, match == "prefix")
        return f"{base} JOIN {fts} AS f ON f.id = m.id WHERE f.words @@ %s::tsquery", [query]


def _sort_type(field: str, kind: Any) -> type:
    base = column_type(field, kind)
    if is_json(base):
        raise ValueError(f"sort field {field!r} cannot be JSON")
    return base


def _body(value: Any) -> Body:
    return value if isinstance(value, dict) else orjson.loads(value)


def _check_sqlite_trigram() -> None:
    if sqlite3.sqlite_version_info < SQLITE_TRIGRAM:
        needed = ".".join(map(str, SQLITE_TRIGRAM))
        raise ConfigurationError(
            f"search indexes need SQLite {needed} or later (FTS5's trigram tokenizer, "
            f"for substring search); this Python uses SQLite {sqlite3.sqlite_version}"
        )


def _fts5_query(found: list[str], field: str | None, match: Match) -> str:
    """An FTS5 MATCH expression: each word a quoted string, so never an operator.

    Without a column filter a phrase may match in any indexed column: the text fields (the
    ``_fts`` table's ``id`` is unindexed, the ``_trgm`` table has only text fields).
    """
    column = f"{{{field}}} : " if field else ""
    star = "*" if match == "prefix" else ""
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


def _like_pattern(word: str) -> str:
    """``%word%`` for ``LIKE ... ESCAPE '\\'``, with ``word``'s wildcards taken literally.

    Words are letters and digits only, so there is nothing to escape today; this keeps it
    so should :func:`words` ever let one of ``%``, ``_`` or ``\\`` through.
    """
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# -- the writer ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Put:
    """A document as it will be written: every value checked when it was put."""

    body: str
    columns: dict[str, Any]  # text and sort fields, normalized
    words: dict[str, list[str]]  # by text field
    same_words: bool = False  # the stored words are these already: only the row changes


@dataclass(slots=True)
class _Entry:
    body: Body | None  # None: no such document (as loaded, or deleted in this batch)
    put: _Put | None = None
    dirty: bool = False
    stored_words: dict[str, list[str]] | None = None  # as the word tables hold them now


class SearchWriter:
    """A search index inside one projection transaction. Reads see the batch's own writes.

    Each changed document is written once, in :meth:`flush`, with its words.
    """

    def __init__(self, session: Session, index: SearchIndex, base: str) -> None:
        self.session = session
        self.index = index
        self.base = base
        self.fts = f"{base}_fts"
        self.trgm = f"{base}_trgm"
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
                loaded = _body(body)
                self._entries[doc_id] = _Entry(loaded, stored_words=self._words_of(loaded))

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
        entry = self._entries.get(doc_id)
        known = entry.stored_words if entry is not None else None
        put = _Put(encoded.decode(), columns, found, same_words=known == found)
        self._entries[doc_id] = _Entry(stored, put, True, known)

    def _words_of(self, body: Body) -> dict[str, list[str]]:
        columns = self.index.columns
        return {f: words(_field(f, columns[f], body.get(f)) or "") for f in self.index.text_fields}

    async def delete(self, doc_id: str) -> None:
        """Remove the document (nothing happens if it does not exist)."""
        entry = self._entries.get(doc_id)
        known = entry.stored_words if entry is not None else None
        self._entries[doc_id] = _Entry(None, dirty=True, stored_words=known)

    async def flush(self) -> None:
        """Write every changed document and its words once."""
        dirty = {doc_id: e for doc_id, e in self._entries.items() if e.dirty}
        if not dirty:
            return
        puts = {doc_id: e.put for doc_id, e in dirty.items() if e.put is not None}
        deletes = [doc_id for doc_id, e in dirty.items() if e.put is None]
        if self.session.dialect == "sqlite":
            reworded = [i for i, e in dirty.items() if e.put is None or not e.put.same_words]
            await self._flush_sqlite(reworded, deletes, puts)
        else:
            await self._flush_postgres(deletes, puts)
        for entry in dirty.values():
            entry.stored_words = entry.put.words if entry.put is not None else None
            entry.dirty, entry.put = False, None

    async def _flush_sqlite(
        self, changed: list[str], deletes: list[str], puts: dict[str, _Put]
    ) -> None:
        s = self.session
        # the old words go first, found through the main row while it still exists
        for table in (self.fts, self.trgm):
            await s.executemany(
                f"DELETE FROM {table} WHERE rowid = (SELECT seq FROM {self.base} WHERE id = ?)",
                [(doc_id,) for doc_id in changed],
            )
        await s.executemany(f"DELETE FROM {self.base} WHERE id = ?", [(i,) for i in deletes])
        await s.executemany(self._upsert_sql(), [self._row(i, p) for i, p in puts.items()])
        fields = ", ".join(self.index.text_fields)
        marks = ", ".join(["?"] * len(self.index.text_fields))
        texts = [(*self._texts(p), i) for i, p in puts.items() if not p.same_words]
        await s.executemany(
            f"INSERT INTO {self.fts} (rowid, id, {fields}) "
            f"SELECT seq, id, {marks} FROM {self.base} WHERE id = ?",
            texts,
        )
        await s.executemany(
            f"INSERT INTO {self.trgm} (rowid, {fields}) "
            f"SELECT seq, {marks} FROM {self.base} WHERE id = ?",
            texts,
        )

    async def _flush_postgres(self, deletes: list[str], puts: dict[str, _Put]) -> None:
        s = self.session
        for table in (self.base, self.fts, self.trgm):
            await s.executemany(f"DELETE FROM {table} WHERE id = %s", [(i,) for i in deletes])
        await s.executemany(self._upsert_sql(), [self._row(i, p) for i, p in puts.items()])
        puts = {i: p for i, p in puts.items() if not p.same_words}
        await s.executemany(
            f"INSERT INTO {self.fts} (id, words) VALUES (%s, array_to_tsvector(%s::text[])) "
            "ON CONFLICT (id) DO UPDATE SET words = excluded.words",
            [(i, _lexemes(p.words)) for i, p in puts.items()],
        )
        fields = self.index.text_fields
        marks = ", ".join(["%s"] * len(fields))
        changes = ", ".join(f"{f} = excluded.{f}" for f in fields)
        await s.executemany(
            f"INSERT INTO {self.trgm} (id, {', '.join(fields)}) VALUES (%s, {marks}) "
            f"ON CONFLICT (id) DO UPDATE SET {changes}",
            [(i, *self._texts(p)) for i, p in puts.items()],
        )

    def _texts(self, put: _Put) -> list[str]:
        """Each text field's words joined by spaces: what the FTS5 and trigram tables hold."""
        return [" ".join(put.words[field]) for field in self.index.text_fields]

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
