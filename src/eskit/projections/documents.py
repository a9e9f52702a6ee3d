"""A document store read model: JSON documents by id, each with a version.

Like a document database projection: a handler reads a document, changes it and puts it
back. Writes are checked against the version that was read, so two writers that raced on
one document never silently overwrite each other (:class:`~eskit.errors.DocumentConflictError`).
Inside a projection batch, documents are cached and each changed one is written once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from eskit.errors import DocumentConflictError
from eskit.projections.database import ReadDatabase
from eskit.projections.readmodel import check_identifier
from eskit.projections.session import Dialect, Session

__all__ = ["Document", "DocumentCollection", "DocumentWriter"]

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document and its version (1 after the first write)."""

    id: str
    version: int
    body: Body


def _loads(value: Any) -> Body:
    return value if isinstance(value, dict) else orjson.loads(value)


class DocumentCollection:
    """The definition of a document collection: one table of ``id, version, body``."""

    def __init__(self, name: str) -> None:
        self.name = check_identifier(name)

    def table_names(self, base: str) -> list[str]:
        """See ReadModel.table_names."""
        return [base]

    def create_sql(self, dialect: Dialect, base: str) -> list[str]:
        """See ReadModel.create_sql."""
        body = "TEXT" if dialect == "sqlite" else "jsonb"
        return [
            f"CREATE TABLE {base} (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
            f"body {body} NOT NULL)"
        ]

    def bind(self, session: Session, base: str) -> DocumentWriter:
        """See ReadModel.bind."""
        return DocumentWriter(session, self.name, base)

    # -- queries (outside projections) --------------------------------------------------

    async def get(self, db: ReadDatabase, doc_id: str) -> Document | None:
        """The committed document ``doc_id``, if any."""
        mark = "?" if db.dialect == "sqlite" else "%s"
        rows = await db.query(
            f"SELECT id, version, body FROM {self.name} WHERE id = {mark}", (doc_id,)
        )
        return Document(rows[0][0], rows[0][1], _loads(rows[0][2])) if rows else None

    async def count(self, db: ReadDatabase) -> int:
        """How many documents the collection holds."""
        return int((await db.query(f"SELECT count(*) FROM {self.name}"))[0][0])

    async def all(self, db: ReadDatabase) -> dict[str, Body]:
        """Every document by id (for tests and small collections)."""
        rows = await db.query(f"SELECT id, body FROM {self.name}")
        return {row[0]: _loads(row[1]) for row in rows}


_NEW = 0


@dataclass(slots=True)
class _Entry:
    version: int  # as stored: 0 when the document does not exist
    body: Body | None
    dirty: bool = False


class DocumentWriter:
    """A collection inside one projection transaction. Reads see the batch's own writes."""

    def __init__(self, session: Session, collection: str, table: str) -> None:
        self.session = session
        self.collection = collection
        self.table = table
        self._entries: dict[str, _Entry] = {}

    async def load_many(self, ids: Iterable[str]) -> None:
        """Fetch these documents in one query (a prefetch for the batch's handlers)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._entries]
        if not wanted:
            return
        if self.session.dialect == "postgres":
            rows = await self.session.fetch(
                f"SELECT id, version, body FROM {self.table} WHERE id = ANY(%s)", (wanted,)
            )
        else:
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += await self.session.fetch(
                    f"SELECT id, version, body FROM {self.table} WHERE id IN ({marks})", chunk
                )
        for doc_id in wanted:
            self._entries[doc_id] = _Entry(_NEW, None)
        for doc_id, version, body in rows:
            self._entries[doc_id] = _Entry(version, _loads(body))

    async def get(self, doc_id: str) -> Body | None:
        """The document as this batch last left it, or None."""
        entry = self._entries.get(doc_id)
        if entry is None:
            await self.load_many((doc_id,))
            entry = self._entries[doc_id]
        return entry.body

    async def put(self, doc_id: str, body: Body) -> None:
        """Create or replace the document."""
        entry = self._entries.get(doc_id)
        if entry is None:
            await self.load_many((doc_id,))
            entry = self._entries[doc_id]
        entry.body = body
        entry.dirty = True

    async def update(self, doc_id: str, change: Callable[[Body], Body | None]) -> Body | None:
        """Apply ``change`` to the document (if it exists) and put the result back."""
        body = await self.get(doc_id)
        if body is None:
            return None
        changed = change(body)
        new = body if changed is None else changed
        await self.put(doc_id, new)
        return new

    async def delete(self, doc_id: str) -> None:
        """Remove the document (nothing happens if it does not exist)."""
        await self.get(doc_id)
        entry = self._entries[doc_id]
        entry.body = None
        entry.dirty = True

    async def flush(self) -> None:
        """Write every changed document, each checked against the version it was read at."""
        inserts, updates, deletes = [], [], []
        for doc_id, entry in self._entries.items():
            if not entry.dirty:
                continue
            if entry.body is None:
                if entry.version != _NEW:
                    deletes.append((doc_id, entry.version))
            elif entry.version == _NEW:
                inserts.append((doc_id, orjson.dumps(entry.body).decode()))
            else:
                updates.append((orjson.dumps(entry.body).decode(), doc_id, entry.version))
        await self._write(inserts, updates, deletes)
        for entry in self._entries.values():
            if entry.dirty:
                entry.version = _NEW if entry.body is None else entry.version + 1
                entry.dirty = False

    async def _write(
        self,
        inserts: list[tuple[str, str]],
        updates: list[tuple[str, str, int]],
        deletes: list[tuple[str, int]],
    ) -> None:
        s, cast = self.session, ("" if self.session.dialect == "sqlite" else "::jsonb")
        m = s.mark
        if updates:
            changed = await s.executemany(
                f"UPDATE {self.table} SET body = {m}{cast}, version = version + 1 "
                f"WHERE id = {m} AND version = {m}",
                updates,
            )
            if changed != len(updates):
                raise DocumentConflictError(self.collection, [u[1] for u in updates])
        if deletes:
            changed = await s.executemany(
                f"DELETE FROM {self.table} WHERE id = {m} AND version = {m}", deletes
            )
            if changed != len(deletes):
                raise DocumentConflictError(self.collection, [d[0] for d in deletes])
        if inserts:
            changed = await s.executemany(
                f"INSERT INTO {self.table} (id, version, body) VALUES ({m}, 1, {m}{cast}) "
                "ON CONFLICT (id) DO NOTHING",
                inserts,
            )
            if changed != len(inserts):
                raise DocumentConflictError(self.collection, [i[0] for i in inserts])
