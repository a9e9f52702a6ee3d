"""A search index read model: JSON documents by id, found by the words of some of their fields.

::

    CUSTOMERS = SearchIndex("customers", text_fields=["name", "email"], sort_fields={"balance": int})

    # in a projection handler
    await ctx.writer(CUSTOMERS).put(customer_id, {"name": "Alice Smith", "balance": 50, ...})

    # in a query
    page = await CUSTOMERS.search(store, "ali smi", sort="balance", descending=True, limit=20)
    page = await CUSTOMERS.search(store, "mith", match="substring")

What matches is the same on every backend, because all index the same words, cut in
Python by :func:`words`: runs of letters and digits, lower-cased. Every word of the query
must begin (``match="prefix"``, the default), be (``match="word"``) or occur anywhere in
(``match="substring"``) a word of the text fields, or of the one ``field`` asked for. An
empty query (or one of spaces only) matches every document; a query with characters but
no word in them (``%``, ``*``, ``--``) matches none, as a full-text engine whose analyzer
leaves no token. Substring search needs query words of at least :data:`MIN_SUBSTRING`
characters, as trigram indexes cannot serve shorter ones. Query text is only ever turned
into such words, so no character of it reaches SQL or a search syntax.

How each backend stores and finds the words is its adapter's business (see
``eskit.store.sqlite.sql`` and ``eskit.store.postgres.sql``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import orjson

from eskit.errors import InvalidCommandError
from eskit.projections.readmodel import check_identifier
from eskit.projections.tables import check_page, column_type, is_json, normalize
from eskit.store.rows import Match, SearchEntry, SearchQuery
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork

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
_MATCHES: tuple[Match, ...] = get_args(Match)

MAX_WORD = 100
"""Words are cut to this many characters (PostgreSQL refuses very long lexemes)."""
MAX_QUERY_WORDS = 32
"""A query may have at most this many distinct words."""
MIN_SUBSTRING = 3
"""Substring search needs query words of at least this many characters (one trigram)."""

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

    async def create(self, tx: UnitOfWork, base: str) -> None:
        """See ReadModel.create."""
        await tx.search.create(self, check_identifier(base))

    def bind(self, tx: UnitOfWork, base: str) -> SearchWriter:
        """See ReadModel.bind."""
        return SearchWriter(tx, self, check_identifier(base))

    # -- queries (outside projections) -------------------------------------------------------

    async def get(self, store: TransactionalStore, doc_id: str) -> Body | None:
        """The committed document ``doc_id``, if any."""
        found = await store.committed.search.get_many(self, self.name, [doc_id])
        return found.get(doc_id)

    async def search(
        self,
        store: TransactionalStore,
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
        a shorter one is a SearchQueryError). Text with no word in it matches nothing; empty
        text (or spaces) matches everything. Results are sorted by ``sort`` (a sort or text
        field; NULLs last) and then by id.
        """
        check_page(limit, offset)
        if sort is not None:
            self._sort_column(sort)
        found = self._query_words(text, field, match)
        if not found and text.strip():
            return SearchPage([], 0, limit, offset)  # characters, but nothing to search for
        query = SearchQuery(
            words=found,
            fields=[field] if field else list(self.text_fields),
            match=match,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
        )
        hits = await store.committed.search.find(self, self.name, query)
        return SearchPage(hits.bodies, hits.total, limit, offset)

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


def _sort_type(field: str, kind: Any) -> type:
    base = column_type(field, kind)
    if is_json(base):
        raise ValueError(f"sort field {field!r} cannot be JSON")
    return base


# -- the writer ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    body: Body | None  # None: no such document (as loaded, or deleted in this batch)
    put: SearchEntry | None = None
    dirty: bool = False
    stored_words: Mapping[str, Sequence[str]] | None = None  # as the index holds them now


class SearchWriter:
    """A search index inside one projection transaction. Reads see the batch's own writes.

    Each changed document is written once, in :meth:`flush`, with its words.
    """

    def __init__(self, tx: UnitOfWork, index: SearchIndex, base: str) -> None:
        self.tx = tx
        self.index = index
        self.base = base
        self._entries: dict[str, _Entry] = {}

    async def load_many(self, ids: Iterable[str]) -> None:
        """Fetch these documents in few queries (a prefetch for the batch's handlers)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._entries]
        if not wanted:
            return
        for doc_id in wanted:
            self._entries[doc_id] = _Entry(None)
        found = await self.tx.search.get_many(self.index, self.base, wanted)
        for doc_id, body in found.items():
            self._entries[doc_id] = _Entry(body, stored_words=self._words_of(body))

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
            raise ValueError(f"{self.index.name}/{doc_id}: documents cannot hold NUL characters")
        stored: Body = orjson.loads(encoded)  # the body as reads will give it back
        columns = {c: _field(c, kind, stored.get(c)) for c, kind in self.index.columns.items()}
        found = {f: words(columns[f] or "") for f in self.index.text_fields}
        entry = self._entries.get(doc_id)
        known = entry.stored_words if entry is not None else None
        put = SearchEntry(doc_id, encoded.decode(), columns, found, same_words=known == found)
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
        dirty = [e for e in self._entries.values() if e.dirty]
        if not dirty:
            return
        puts = [e.put for e in dirty if e.put is not None]
        deletes = [doc_id for doc_id, e in self._entries.items() if e.dirty and e.put is None]
        await self.tx.search.write(self.index, self.base, puts, deletes)
        for entry in dirty:
            entry.stored_words = dict(entry.put.words) if entry.put is not None else None
            entry.dirty, entry.put = False, None


def _field(field: str, kind: type, value: Any) -> Any:
    """A body value for a typed column; datetimes may come as ISO strings (as JSON has them)."""
    if kind is datetime and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"field {field!r}: {value!r} is not an ISO datetime") from None
    return normalize(field, kind, value)
