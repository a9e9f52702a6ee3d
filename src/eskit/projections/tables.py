"""A relational read model: one table of typed columns with a primary key.

::

    ACCOUNTS = Table(
        "accounts",
        {"id": str, "owner": str, "balance": int, "opened_at": datetime, "tags": list},
        key=("id",),
        indexes=[("owner",)],
    )

    # in a projection handler
    await ctx.writer(ACCOUNTS).upsert({"id": account_id, "owner": "ann", "balance": 0, ...})
    await ctx.writer(ACCOUNTS).update(account_id, balance=10)

    # in a query
    rows = await ACCOUNTS.select(store, where={"owner": "ann"}, order_by="balance", descending=True)

Values come back with their column's Python type on both backends: ``datetime`` columns as
UTC-aware datetimes, ``dict`` and ``list`` columns as JSON values, ``bool`` as bool. Inside
a projection batch, rows are cached by key and each changed row is written once.

Text compares and sorts by code point on every backend; NULLs sort last whatever the
direction. Values are checked here, in the handler that wrote them, so every backend gives
the same error; the store adapter turns rows into its own SQL (``eskit.store.rows``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_origin

import orjson

from eskit.projections.readmodel import check_identifier
from eskit.store.rows import Row
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork

__all__ = ["Key", "Row", "Table", "TableWriter"]

KeyValue = str | int | float | bool | datetime
Key = KeyValue | tuple[KeyValue, ...]
"""A row's key: its value, or a tuple of values for a composite key (in ``key`` order)."""

_KINDS: tuple[type, ...] = (str, int, float, bool, datetime, dict, list)
_INT64 = (-(2**63), 2**63 - 1)


# -- column types, shared with the search index ----------------------------------------------


def column_type(column: str, kind: Any) -> type:
    """The storable base type of ``kind`` (``dict[str, int]`` is ``dict``); refuses others."""
    base = get_origin(kind) or kind
    if base not in _KINDS:
        names = ", ".join(t.__name__ for t in _KINDS)
        raise TypeError(f"column {column!r}: type {kind!r} is not one of {names}")
    return base  # type: ignore[no-any-return]


def is_json(kind: type) -> bool:
    """Whether columns of ``kind`` hold JSON (and so cannot be keys, filters or sort keys)."""
    return kind in (dict, list)


def normalize(column: str, kind: type, value: Any) -> Any:
    """``value`` checked against its column and in the form it reads back in.

    Checking here, in the handler that wrote the value, gives the same error on every
    backend instead of a driver error at flush (or a silent coercion).
    """
    if value is None:
        return None
    if kind is float or kind is int:  # bool is an int to Python, but not to SQL
        ok = isinstance(value, int | float if kind is float else int)
        ok = ok and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise TypeError(f"column {column!r} holds {kind.__name__}, not {value!r}")
    return _CHECKS.get(kind, _same)(column, value)


def _same(column: str, value: Any) -> Any:
    return value


def _check_text(column: str, value: str) -> str:
    if "\x00" in value:
        raise ValueError(f"column {column!r}: text cannot hold NUL characters in every store")
    return value


def _check_int(column: str, value: int) -> int:
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"column {column!r}: {value} does not fit in 64 bits")
    return value


def _check_float(column: str, value: float) -> float:
    if math.isnan(value):  # some stores would keep NULL
        raise ValueError(f"column {column!r}: NaN cannot be stored")
    return float(value)


def _check_time(column: str, value: datetime) -> datetime:
    if value.utcoffset() is None:  # naive times would be read in different zones per backend
        raise ValueError(f"column {column!r}: datetimes must carry a time zone")
    return value.astimezone(UTC)


def _check_json(column: str, value: Any) -> Any:
    text = orjson.dumps(value)
    if b"\\u0000" in text:
        raise ValueError(f"column {column!r}: JSON cannot hold NUL characters in every store")
    return orjson.loads(text)  # what a read gives back (datetimes become strings, and so on)


_CHECKS: dict[type, Any] = {
    str: _check_text,
    int: _check_int,
    float: _check_float,
    datetime: _check_time,
    dict: _check_json,
    list: _check_json,
}


def check_page(limit: int, offset: int) -> None:
    """Refuse pages outside ``1 <= limit <= 1000`` and ``offset >= 0``."""
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be between 1 and 1000, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")


# -- the table -------------------------------------------------------------------------------


class Table:
    """The definition of a relational read model: typed columns, a primary key, indexes.

    Column types are ``str``, ``int``, ``float``, ``bool``, ``datetime`` (stored in UTC) and
    ``dict`` or ``list`` (JSON). Key columns cannot be JSON and are never NULL.
    """

    def __init__(
        self,
        name: str,
        columns: Mapping[str, Any],
        key: tuple[str, ...] | str,
        indexes: Sequence[tuple[str, ...]] = (),
    ) -> None:
        self.name = check_identifier(name)
        self.columns: dict[str, type] = {
            check_identifier(column): column_type(column, kind) for column, kind in columns.items()
        }
        if len({column.lower() for column in self.columns}) != len(self.columns):
            raise ValueError(f"table {self.name}: column names differ only in case")
        self.key: tuple[str, ...] = (key,) if isinstance(key, str) else tuple(key)
        self.indexes: tuple[tuple[str, ...], ...] = tuple(tuple(ix) for ix in indexes)
        self._check_columns("key", self.key)
        for index in self.indexes:
            self._check_columns("index", index)

    def _check_columns(self, role: str, columns: tuple[str, ...]) -> None:
        if not columns or len(set(columns)) != len(columns):
            raise ValueError(f"table {self.name}: {role} needs distinct columns, not {columns}")
        for column in columns:
            self.column(column, role)

    def column(self, column: str, role: str) -> type:
        """The type of ``column`` used as ``role``; unknown and JSON columns are refused."""
        kind = self.columns.get(column)
        if kind is None:
            raise ValueError(f"table {self.name} has no column {column!r} (for {role})")
        if is_json(kind):
            raise ValueError(f"table {self.name}: JSON column {column!r} cannot be a {role}")
        return kind

    def key_of(self, key: Key) -> tuple[Any, ...]:
        """``key`` as a tuple of normalized values, one per key column."""
        values = key if isinstance(key, tuple) else (key,)
        if len(values) != len(self.key):
            raise ValueError(f"table {self.name}: key is {self.key}, got {key!r}")
        normal = tuple(
            normalize(c, self.columns[c], v) for c, v in zip(self.key, values, strict=True)
        )
        if None in normal:
            raise ValueError(f"table {self.name}: key columns cannot be None ({key!r})")
        return normal

    def row_of(self, row: Mapping[str, Any]) -> Row:
        """``row`` checked and complete: every column, missing ones as None."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"table {self.name} has no columns {sorted(unknown)}")
        full = {c: normalize(c, kind, row.get(c)) for c, kind in self.columns.items()}
        if any(full[c] is None for c in self.key):
            raise ValueError(f"table {self.name}: a row needs its key columns {self.key}")
        return full

    # -- ReadModel ---------------------------------------------------------------------------

    def table_names(self, base: str) -> list[str]:
        """See ReadModel.table_names."""
        return [base]

    async def create(self, tx: UnitOfWork, base: str) -> None:
        """See ReadModel.create."""
        await tx.tables.create(self, check_identifier(base))

    def bind(self, tx: UnitOfWork, base: str) -> TableWriter:
        """See ReadModel.bind."""
        return TableWriter(tx, self, check_identifier(base))

    # -- queries (outside projections) -------------------------------------------------------

    async def get(self, store: TransactionalStore, key: Key) -> Row | None:
        """The committed row with ``key``, if any."""
        rows = await store.committed.tables.get_many(self, self.name, [self.key_of(key)])
        return rows[0] if rows else None

    async def select(
        self,
        store: TransactionalStore,
        *,
        where: Mapping[str, Any] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Row]:
        """Committed rows whose columns equal ``where`` (None matches NULL), one page of them.

        Sorted by ``order_by`` (NULLs last), then by key; by key alone when it is None.
        """
        check_page(limit, offset)
        if order_by is not None:
            self.column(order_by, "sort key")
        return await store.committed.tables.select(
            self,
            self.name,
            where=self._where(where),
            order_by=order_by,
            descending=descending,
            limit=limit,
            offset=offset,
        )

    async def count(self, store: TransactionalStore, where: Mapping[str, Any] | None = None) -> int:
        """How many committed rows match ``where`` (all of them when None)."""
        return await store.committed.tables.count(self, self.name, self._where(where))

    def _where(self, where: Mapping[str, Any] | None) -> dict[str, Any]:
        checked = {}
        for column, value in (where or {}).items():
            kind = self.column(column, "filter")
            checked[column] = normalize(column, kind, value)
        return checked


# -- the writer ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    row: Row | None  # None: no such row (as loaded, or deleted in this batch)
    dirty: bool = False


class TableWriter:
    """A table inside one projection transaction. Reads see the batch's own writes.

    Writes are buffered per key: however often a batch changes a row, :meth:`flush` writes
    it once (an upsert, or a delete).
    """

    def __init__(self, tx: UnitOfWork, table: Table, base: str) -> None:
        self.tx = tx
        self.table = table
        self.base = base
        self._entries: dict[tuple[Any, ...], _Entry] = {}

    async def load_many(self, keys: Iterable[Key]) -> None:
        """Fetch these rows in few queries (a prefetch for the batch's handlers)."""
        wanted = [k for k in dict.fromkeys(map(self.table.key_of, keys)) if k not in self._entries]
        if not wanted:
            return
        for key in wanted:
            self._entries[key] = _Entry(None)
        for row in await self.tx.tables.get_many(self.table, self.base, wanted):
            self._entries[tuple(row[c] for c in self.table.key)] = _Entry(row)

    async def get(self, key: Key) -> Row | None:
        """The row as this batch last left it (a copy), or None."""
        normal = self.table.key_of(key)
        if normal not in self._entries:
            await self.load_many((normal,))
        row = self._entries[normal].row
        return None if row is None else dict(row)

    async def upsert(self, row: Mapping[str, Any]) -> None:
        """Create or replace the row with ``row``'s key; missing columns become None."""
        full = self.table.row_of(row)
        self._entries[tuple(full[c] for c in self.table.key)] = _Entry(full, dirty=True)

    async def update(self, key: Key, /, **changes: Any) -> Row | None:
        """Change some columns of an existing row; returns it, or None if there is none."""
        if set(changes) & set(self.table.key):
            raise ValueError(f"table {self.table.name}: update cannot change key columns")
        row = await self.get(key)
        if row is None:
            return None
        row.update(changes)
        await self.upsert(row)
        return await self.get(key)

    async def delete(self, key: Key) -> None:
        """Remove the row (nothing happens if it does not exist)."""
        self._entries[self.table.key_of(key)] = _Entry(None, dirty=True)

    async def flush(self) -> None:
        """Write every changed row once: deletes, then upserts."""
        dirty = [(key, e) for key, e in self._entries.items() if e.dirty]
        deletes = [key for key, e in dirty if e.row is None]
        upserts = [e.row for _, e in dirty if e.row is not None]
        if deletes:
            await self.tx.tables.delete(self.table, self.base, deletes)
        if upserts:
            await self.tx.tables.upsert(self.table, self.base, upserts)
        for _, entry in dirty:
            entry.dirty = False
