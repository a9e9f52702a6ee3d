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
    rows = await ACCOUNTS.select(db, where={"owner": "ann"}, order_by="balance", descending=True)

Values come back with their column's Python type on both backends: ``datetime`` columns as
UTC-aware datetimes, ``dict`` and ``list`` columns as JSON values, ``bool`` as bool. Inside
a projection batch, rows are cached by key and each changed row is written once.

Text compares and sorts by code point on both backends (``COLLATE "C"`` on PostgreSQL, as
SQLite's ``BINARY``); NULLs sort last whatever the direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_origin

import orjson

from eskit.projections.database import ReadDatabase
from eskit.projections.readmodel import check_identifier, unique_suffix
from eskit.projections.session import Dialect, Session

__all__ = ["Key", "Row", "Table", "TableWriter"]

Row = dict[str, Any]
KeyValue = str | int | float | bool | datetime
Key = KeyValue | tuple[KeyValue, ...]
"""A row's key: its value, or a tuple of values for a composite key (in ``key`` order)."""

_SQL_TYPES: dict[type, tuple[str, str]] = {
    str: ("TEXT", 'text COLLATE "C"'),
    int: ("INTEGER", "bigint"),
    float: ("REAL", "double precision"),
    bool: ("INTEGER", "boolean"),
    datetime: ("TEXT", "timestamptz"),
    dict: ("TEXT", "jsonb"),
    list: ("TEXT", "jsonb"),
}
_INT64 = (-(2**63), 2**63 - 1)
_MAX_PARAMS = 900  # below SQLite's old 999-variable limit; far below PostgreSQL's


# -- column types, shared with the search index ----------------------------------------------


def column_type(column: str, kind: Any) -> type:
    """The storable base type of ``kind`` (``dict[str, int]`` is ``dict``); refuses others."""
    base = get_origin(kind) or kind
    if base not in _SQL_TYPES:
        names = ", ".join(t.__name__ for t in _SQL_TYPES)
        raise TypeError(f"column {column!r}: type {kind!r} is not one of {names}")
    return base  # type: ignore[no-any-return]


def is_json(kind: type) -> bool:
    """Whether columns of ``kind`` hold JSON (and so cannot be keys, filters or sort keys)."""
    return kind in (dict, list)


def sql_type(dialect: Dialect, kind: type) -> str:
    """The column type for ``kind`` on ``dialect``."""
    sqlite, postgres = _SQL_TYPES[kind]
    return sqlite if dialect == "sqlite" else postgres


def normalize(column: str, kind: type, value: Any) -> Any:
    """``value`` checked against its column and in the form it reads back in.

    Checking here, in the handler that wrote the value, gives the same error on both
    backends instead of a driver error at flush (or a silent coercion on SQLite).
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
        raise ValueError(f"column {column!r}: PostgreSQL cannot store NUL characters")
    return value


def _check_int(column: str, value: int) -> int:
    if not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"column {column!r}: {value} does not fit in 64 bits")
    return value


def _check_float(column: str, value: float) -> float:
    if math.isnan(value):  # SQLite would store NULL
        raise ValueError(f"column {column!r}: NaN cannot be stored")
    return float(value)


def _check_time(column: str, value: datetime) -> datetime:
    if value.utcoffset() is None:  # naive times would be read in different zones per backend
        raise ValueError(f"column {column!r}: datetimes must carry a time zone")
    return value.astimezone(UTC)


def _check_json(column: str, value: Any) -> Any:
    text = orjson.dumps(value)
    if b"\\u0000" in text:
        raise ValueError(f"column {column!r}: PostgreSQL cannot store NUL characters in JSON")
    return orjson.loads(text)  # what a read gives back (datetimes become strings, and so on)


_CHECKS: dict[type, Any] = {
    str: _check_text,
    int: _check_int,
    float: _check_float,
    datetime: _check_time,
    dict: _check_json,
    list: _check_json,
}


def to_sql(dialect: Dialect, kind: type, value: Any) -> Any:
    """A normalized value as a query parameter."""
    if value is None:
        return None
    if is_json(kind):
        return orjson.dumps(value).decode()
    if dialect == "postgres":
        return value
    if kind is bool:
        return int(value)
    if kind is datetime:
        # fixed width, always with microseconds, always UTC: text order is time order
        return value.isoformat(timespec="microseconds")
    return value


def from_sql(kind: type, value: Any) -> Any:
    """A stored value as its column's Python type."""
    if value is None:
        return None
    if kind is datetime:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.astimezone(UTC)
    if is_json(kind):
        return orjson.loads(value) if isinstance(value, str | bytes) else value
    return kind(value)


def placeholder(dialect: Dialect, kind: type) -> str:
    """The parameter marker for a value of ``kind`` (JSON text is cast on PostgreSQL)."""
    if dialect == "sqlite":
        return "?"
    return "%s::jsonb" if is_json(kind) else "%s"


def check_page(limit: int, offset: int) -> None:
    """Refuse pages outside ``1 <= limit <= 1000`` and ``offset >= 0``."""
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be between 1 and 1000, not {limit}")
    if offset < 0:
        raise ValueError(f"offset must be 0 or more, not {offset}")


def order_term(column: str, descending: bool) -> str:
    """An ORDER BY term with NULLs last in both directions, on both backends."""
    return f"{column} {'DESC' if descending else 'ASC'} NULLS LAST"


def index_name(base: str, label: str, suffix: str) -> str:
    """An index (or constraint) name unique to one creation of ``base``.

    The random suffix lets a rebuild's shadow table be renamed over the live one without
    its indexes clashing; the base is cut so the name fits PostgreSQL's 63 characters.
    """
    return f"ix_{base[:40]}_{label}_{suffix}"


def chunks(items: Sequence[Any], width: int) -> Iterable[Sequence[Any]]:
    """``items`` in slices small enough that ``width`` parameters each fit one statement."""
    size = max(1, _MAX_PARAMS // width)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _mark(db: ReadDatabase) -> str:
    return "?" if db.dialect == "sqlite" else "%s"


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

    def decode(self, values: Sequence[Any]) -> Row:
        """A fetched row (all columns, in order) as Python values."""
        return {
            c: from_sql(kind, v) for (c, kind), v in zip(self.columns.items(), values, strict=True)
        }

    # -- ReadModel ---------------------------------------------------------------------------

    def table_names(self, base: str) -> list[str]:
        """See ReadModel.table_names."""
        return [base]

    def create_sql(self, dialect: Dialect, base: str) -> list[str]:
        """See ReadModel.create_sql."""
        base, suffix = check_identifier(base), unique_suffix()
        columns = ", ".join(
            f"{c} {sql_type(dialect, kind)}{' NOT NULL' if c in self.key else ''}"
            for c, kind in self.columns.items()
        )
        pk = f"CONSTRAINT {index_name(base, 'pk', suffix)} PRIMARY KEY ({', '.join(self.key)})"
        statements = [f"CREATE TABLE {base} ({columns}, {pk})"]
        for number, index in enumerate(self.indexes):
            name = index_name(base, str(number), suffix)
            statements.append(f"CREATE INDEX {name} ON {base} ({', '.join(index)})")
        return statements

    def bind(self, session: Session, base: str) -> TableWriter:
        """See ReadModel.bind."""
        return TableWriter(session, self, check_identifier(base))

    # -- queries (outside projections) -------------------------------------------------------

    async def get(self, db: ReadDatabase, key: Key) -> Row | None:
        """The committed row with ``key``, if any."""
        where = " AND ".join(f"{c} = {_mark(db)}" for c in self.key)
        params = [
            to_sql(db.dialect, self.columns[c], v)
            for c, v in zip(self.key, self.key_of(key), strict=True)
        ]
        rows = await db.query(
            f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE {where}", params
        )
        return self.decode(rows[0]) if rows else None

    async def select(
        self,
        db: ReadDatabase,
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
        condition, params = self._where(db.dialect, where)
        order = []
        if order_by is not None:
            self.column(order_by, "sort key")
            order.append(order_term(order_by, descending))
        order += [order_term(c, descending and order_by is None) for c in self.key]
        mark = _mark(db)
        rows = await db.query(
            f"SELECT {', '.join(self.columns)} FROM {self.name}{condition} "
            f"ORDER BY {', '.join(order)} LIMIT {mark} OFFSET {mark}",
            [*params, limit, offset],
        )
        return [self.decode(row) for row in rows]

    async def count(self, db: ReadDatabase, where: Mapping[str, Any] | None = None) -> int:
        """How many committed rows match ``where`` (all of them when None)."""
        condition, params = self._where(db.dialect, where)
        rows = await db.query(f"SELECT count(*) FROM {self.name}{condition}", params)
        return int(rows[0][0])

    def _where(self, dialect: Dialect, where: Mapping[str, Any] | None) -> tuple[str, list[Any]]:
        terms, params = [], []
        mark = "?" if dialect == "sqlite" else "%s"
        for column, value in (where or {}).items():
            kind = self.column(column, "filter")
            if value is None:
                terms.append(f"{column} IS NULL")
            else:
                terms.append(f"{column} = {mark}")
                params.append(to_sql(dialect, kind, normalize(column, kind, value)))
        return (f" WHERE {' AND '.join(terms)}" if terms else ""), params


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

    def __init__(self, session: Session, table: Table, base: str) -> None:
        self.session = session
        self.table = table
        self.base = base
        self._entries: dict[tuple[Any, ...], _Entry] = {}

    async def load_many(self, keys: Iterable[Key]) -> None:
        """Fetch these rows in few queries (a prefetch for the batch's handlers)."""
        wanted = [k for k in dict.fromkeys(map(self.table.key_of, keys)) if k not in self._entries]
        for key in wanted:
            self._entries[key] = _Entry(None)
        for chunk in chunks(wanted, len(self.table.key)):
            for values in await self._fetch(chunk):
                row = self.table.decode(values)
                self._entries[tuple(row[c] for c in self.table.key)] = _Entry(row)

    async def _fetch(self, keys: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        dialect, mark, key = self.session.dialect, self.session.mark, self.table.key
        if len(key) == 1:
            condition = f"{key[0]} IN ({', '.join([mark] * len(keys))})"
        else:  # row values: (a, b) IN (VALUES (?, ?), ...) works on both backends
            tuple_marks = f"({', '.join([mark] * len(key))})"
            condition = f"({', '.join(key)}) IN (VALUES {', '.join([tuple_marks] * len(keys))})"
        params = [
            to_sql(dialect, self.table.columns[c], v)
            for values in keys
            for c, v in zip(key, values, strict=True)
        ]
        columns = ", ".join(self.table.columns)
        return await self.session.fetch(
            f"SELECT {columns} FROM {self.base} WHERE {condition}", params
        )

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
        """Write every changed row once: deletes, then upserts, each in one executemany."""
        dirty = [(key, e) for key, e in self._entries.items() if e.dirty]
        deletes = [self._params(self.table.key, key) for key, e in dirty if e.row is None]
        upserts = [
            self._params(tuple(self.table.columns), tuple(e.row.values()))
            for _, e in dirty
            if e.row is not None
        ]
        if deletes:
            where = " AND ".join(f"{c} = {self.session.mark}" for c in self.table.key)
            await self.session.executemany(f"DELETE FROM {self.base} WHERE {where}", deletes)
        if upserts:
            await self.session.executemany(self._upsert_sql(), upserts)
        for _, entry in dirty:
            entry.dirty = False

    def _params(self, columns: tuple[str, ...], values: tuple[Any, ...]) -> list[Any]:
        dialect = self.session.dialect
        return [
            to_sql(dialect, self.table.columns[c], v) for c, v in zip(columns, values, strict=True)
        ]

    def _upsert_sql(self) -> str:
        dialect, columns, key = self.session.dialect, self.table.columns, self.table.key
        marks = ", ".join(placeholder(dialect, kind) for kind in columns.values())
        others = [c for c in columns if c not in key]
        action = (
            "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in others)
            if others
            else "DO NOTHING"
        )
        return (
            f"INSERT INTO {self.base} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) {action}"
        )
