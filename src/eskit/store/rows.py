"""The rows a store keeps beside its events: read-model tables, documents, search indexes.

These are ports: the read-model toolkit (``eskit.projections``) describes a table, a
document collection or a search index, checks every value in Python, and buffers a batch's
changes; each transactional adapter turns those descriptions into its own SQL, in
``eskit/store/<backend>/``. Readers see committed rows (``store.committed``); sessions see
their own transaction's writes too and write (``store.transaction()``).

Values cross these ports as Python values already checked by the toolkit: ``str``,
``int`` (64-bit), ``float``, ``bool``, UTC-aware ``datetime``, JSON values for ``dict``
and ``list`` columns, or None. Rows come back with the same types on every backend.
Table and column names are plain identifiers, checked before they get here. Text
compares and sorts by code point; NULLs sort last in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "Body",
    "Document",
    "DocumentChanges",
    "DocumentReader",
    "DocumentSession",
    "Match",
    "Row",
    "SQLReader",
    "SQLSession",
    "SchemaReader",
    "SchemaSession",
    "SearchEntry",
    "SearchHits",
    "SearchQuery",
    "SearchReader",
    "SearchSession",
    "SearchShape",
    "TableReader",
    "TableSession",
    "TableShape",
]

Row = dict[str, Any]
Body = dict[str, Any]
Match = Literal["prefix", "word", "substring"]
"""How a query word matches a word of the text: its beginning, all of it, or any part."""


# -- tables ------------------------------------------------------------------------------------


class TableShape(Protocol):
    """A relational read model: typed columns, a primary key, secondary indexes."""

    @property
    def name(self) -> str: ...
    @property
    def columns(self) -> Mapping[str, type]:
        """Column name to ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``dict`` or ``list``."""
        ...

    @property
    def key(self) -> tuple[str, ...]: ...
    @property
    def indexes(self) -> tuple[tuple[str, ...], ...]: ...


class TableReader(Protocol):
    """Rows of tables, as committed (or as the session left them)."""

    async def get_many(
        self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]
    ) -> list[Row]:
        """The rows of ``base`` with these keys (missing ones are left out), every column."""
        ...

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
        """Rows whose columns equal ``where`` (None matches NULL), sorted by ``order_by``
        (NULLs last) then by key (by key alone when None, descending if asked)."""
        ...

    async def count(self, table: TableShape, base: str, where: Mapping[str, Any]) -> int:
        """How many rows match ``where``."""
        ...


class TableSession(TableReader, Protocol):
    """Tables inside a transaction."""

    async def create(self, table: TableShape, base: str) -> None:
        """Create ``base`` with the table's columns, key and indexes (index names unique to
        this creation, so a rebuild's table can later be renamed over the live one)."""
        ...

    async def upsert(self, table: TableShape, base: str, rows: Sequence[Row]) -> None:
        """Insert each row, or replace the row with its key (every column given)."""
        ...

    async def delete(self, table: TableShape, base: str, keys: Sequence[tuple[Any, ...]]) -> None:
        """Remove the rows with these keys (missing ones are ignored)."""
        ...


# -- documents -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document and its version (1 after the first write)."""

    id: str
    version: int
    body: Body


@dataclass(frozen=True, slots=True)
class DocumentChanges:
    """A batch of document writes, each checked against the version it was read at.

    Bodies are JSON text (objects), checked by the caller. ``inserts``: ``(id, body)`` of
    documents read as missing; ``updates``: ``(id, version read, body)``; ``deletes``:
    ``(id, version read)``.
    """

    inserts: Sequence[tuple[str, str]] = ()
    updates: Sequence[tuple[str, int, str]] = ()
    deletes: Sequence[tuple[str, int]] = ()


class DocumentReader(Protocol):
    """Documents (``id``, ``version``, ``body``) of a collection's table."""

    async def get_many(self, base: str, ids: Sequence[str]) -> list[Document]:
        """The documents with these ids (missing ones are left out)."""
        ...

    async def count(self, base: str) -> int:
        """How many documents ``base`` holds."""
        ...

    async def all(self, base: str) -> list[Document]:
        """Every document of ``base`` (for tests and small collections)."""
        ...


class DocumentSession(DocumentReader, Protocol):
    """Documents inside a transaction."""

    async def create(self, base: str) -> None:
        """Create the collection's table ``base``."""
        ...

    async def write(self, collection: str, base: str, changes: DocumentChanges) -> None:
        """Apply ``changes``; each version moves up by one.

        Raises DocumentConflictError (naming ``collection`` and the ids) when a document
        is no longer at the version it was read at, or was created meanwhile; the caller's
        transaction must then roll back.
        """
        ...


# -- search --------------------------------------------------------------------------------------


class SearchShape(Protocol):
    """A search index: documents by id, found by the words of their text fields."""

    @property
    def name(self) -> str: ...
    @property
    def text_fields(self) -> tuple[str, ...]: ...
    @property
    def sort_fields(self) -> Mapping[str, type]: ...
    @property
    def columns(self) -> Mapping[str, type]:
        """The typed columns kept beside the body: text fields (``str``), then sort fields."""
        ...


@dataclass(frozen=True, slots=True)
class SearchEntry:
    """A document as the index writes it.

    ``body`` is JSON text; ``columns`` the checked values of the text and sort fields;
    ``words`` the words of each text field (cut by the toolkit, the same for every
    backend). ``same_words``: the index holds these words for the document already, only
    its row changes.
    """

    id: str
    body: str
    columns: Mapping[str, Any]
    words: Mapping[str, Sequence[str]]
    same_words: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to find: documents whose ``fields`` hold every one of ``words``.

    ``words`` are the query's words as the toolkit cut them (letters and digits, lower
    case); with no words every document matches. ``sort`` names a column (None: by id).
    """

    words: Sequence[str]
    fields: Sequence[str]
    match: Match = "prefix"
    sort: str | None = None
    descending: bool = False
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SearchHits:
    """One page of matching bodies, and how many documents matched in all."""

    bodies: list[Body] = field(default_factory=list)
    total: int = 0


class SearchReader(Protocol):
    """Search indexes, as committed (or as the session left them)."""

    async def get_many(self, index: SearchShape, base: str, ids: Sequence[str]) -> dict[str, Body]:
        """The bodies of these documents by id (missing ones are left out)."""
        ...

    async def find(self, index: SearchShape, base: str, query: SearchQuery) -> SearchHits:
        """The page of documents ``query`` asks for, sorted, and the number of matches."""
        ...


class SearchSession(SearchReader, Protocol):
    """Search indexes inside a transaction."""

    async def create(self, index: SearchShape, base: str) -> None:
        """Create the index's tables: ``base``, ``base_fts`` and ``base_trgm``."""
        ...

    async def write(
        self, index: SearchShape, base: str, puts: Sequence[SearchEntry], deletes: Sequence[str]
    ) -> None:
        """Store ``puts`` (each replacing the document with its id) and remove ``deletes``."""
        ...


# -- schema and plain SQL ------------------------------------------------------------------------


class SchemaReader(Protocol):
    """What tables exist."""

    async def exists(self, table: str) -> bool:
        """Whether ``table`` exists (a table or a view)."""
        ...


class SchemaSession(SchemaReader, Protocol):
    """Changing tables inside a transaction: creating, swapping and dropping read models."""

    async def guard(self, name: str) -> None:
        """Serialise, until this transaction ends, with other processes guarding ``name``
        (two processes creating one read model's tables at once)."""
        ...

    async def lock(self, tables: Sequence[str]) -> None:
        """Keep every other writer and reader of ``tables`` out until this transaction ends."""
        ...

    async def drop(self, table: str) -> None:
        """Drop ``table`` if it exists."""
        ...

    async def rename(self, table: str, to: str) -> None:
        """Rename ``table`` to ``to``."""
        ...


class SQLReader(Protocol):
    """The store's database in its own SQL dialect, for read models of your own.

    eskit itself never writes SQL here; an application that does is tied to its backend.
    ``placeholder`` is the driver's parameter marker (``?`` or ``%s``).
    """

    placeholder: str

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one query."""
        ...


class SQLSession(SQLReader, Protocol):
    """Plain SQL inside a transaction."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement per row of parameters; returns the rows changed in all."""
        ...
