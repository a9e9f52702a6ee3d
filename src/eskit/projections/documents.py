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

from eskit.projections.readmodel import check_identifier
from eskit.store.rows import Document, DocumentChanges
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork

__all__ = ["Document", "DocumentCollection", "DocumentWriter"]

Body = dict[str, Any]


class DocumentCollection:
    """The definition of a document collection: one table of ``id, version, body``."""

    def __init__(self, name: str) -> None:
        self.name = check_identifier(name)

    def table_names(self, base: str) -> list[str]:
        """See ReadModel.table_names."""
        return [base]

    async def create(self, tx: UnitOfWork, base: str) -> None:
        """See ReadModel.create."""
        await tx.documents.create(check_identifier(base))

    def bind(self, tx: UnitOfWork, base: str) -> DocumentWriter:
        """See ReadModel.bind."""
        return DocumentWriter(tx, self.name, check_identifier(base))

    # -- queries (outside projections) --------------------------------------------------

    async def get(self, store: TransactionalStore, doc_id: str) -> Document | None:
        """The committed document ``doc_id``, if any."""
        found = await store.committed.documents.get_many(self.name, [doc_id])
        return found[0] if found else None

    async def count(self, store: TransactionalStore) -> int:
        """How many documents the collection holds."""
        return await store.committed.documents.count(self.name)

    async def all(self, store: TransactionalStore) -> dict[str, Body]:
        """Every document by id (for tests and small collections)."""
        return {d.id: d.body for d in await store.committed.documents.all(self.name)}


_NEW = 0


@dataclass(slots=True)
class _Entry:
    version: int  # as stored: 0 when the document does not exist
    body: Body | None
    dirty: bool = False


class DocumentWriter:
    """A collection inside one projection transaction. Reads see the batch's own writes."""

    def __init__(self, tx: UnitOfWork, collection: str, table: str) -> None:
        self.tx = tx
        self.collection = collection
        self.table = table
        self._entries: dict[str, _Entry] = {}

    async def load_many(self, ids: Iterable[str]) -> None:
        """Fetch these documents in one query (a prefetch for the batch's handlers)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._entries]
        if not wanted:
            return
        for doc_id in wanted:
            self._entries[doc_id] = _Entry(_NEW, None)
        for found in await self.tx.documents.get_many(self.table, wanted):
            self._entries[found.id] = _Entry(found.version, found.body)

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
                inserts.append((doc_id, _encode(self.collection, doc_id, entry.body)))
            else:
                body = _encode(self.collection, doc_id, entry.body)
                updates.append((doc_id, entry.version, body))
        if inserts or updates or deletes:
            changes = DocumentChanges(inserts, updates, deletes)
            await self.tx.documents.write(self.collection, self.table, changes)
        for entry in self._entries.values():
            if entry.dirty:
                entry.version = _NEW if entry.body is None else entry.version + 1
                entry.dirty = False


def _encode(collection: str, doc_id: str, body: Body) -> str:
    text = orjson.dumps(body)
    if b"\\u0000" in text:
        raise ValueError(f"{collection}/{doc_id}: documents cannot hold NUL characters")
    return text.decode()
