"""What every transactional store must do with read-model tables and documents.

Tables keep typed columns and give every value back with its type; keys may be composite;
a batch writes each changed row once; selects filter, sort (NULLs last, text by code point)
and page. Documents are written against the version they were read at. Every value is
checked before any SQL runs, so each backend refuses the same bad input the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from eskit.errors import DocumentConflictError
from eskit.projections.documents import DocumentCollection
from eskit.projections.readmodel import SHADOW_SUFFIX, ReadModel
from eskit.projections.tables import Table, TableWriter
from eskit.store import TransactionalStore
from eskit.store.rows import DocumentChanges
from eskit.testing.contract._read_models import (
    CUSTOMERS,
    EVERYTHING,
    FULL_ROW,
    JAN,
    LINES,
    PEOPLE,
    ROW_ID,
    Recording,
    assert_exact,
    create,
    fill_people,
    in_table,
    swap_in,
)
from eskit.testing.contract.hooks import TransactionalStoreUnderTest

__all__ = ["DocumentContract", "TableContract"]


class TableContract(TransactionalStoreUnderTest):
    """Relational read models (:class:`~eskit.projections.Table`) on the store."""

    async def test_values_round_trip_with_their_types(self, db: TransactionalStore) -> None:
        await create(db, EVERYTHING)

        async def write(w: TableWriter) -> dict[str, Any] | None:
            await w.upsert(FULL_ROW)
            await w.upsert({"id": "bare", "active": False})
            return await w.get(ROW_ID)

        assert_exact(await in_table(db, EVERYTHING, write))
        assert_exact(await EVERYTHING.get(db, ROW_ID))
        assert_exact(await in_table(db, EVERYTHING, lambda w: w.get(ROW_ID)))
        bare = await EVERYTHING.get(db, "bare")
        assert bare == {"id": "bare", "active": False} | dict.fromkeys(
            ["count", "ratio", "seen_at", "info", "tags"]
        )
        assert bare is not None
        assert bare["active"] is False

    async def test_composite_keys(self, db: TransactionalStore) -> None:
        await create(db, LINES)

        async def write(w: TableWriter) -> None:
            for order, line, sku in [("o1", 1, "pen"), ("o1", 2, "ink"), ("o2", 1, "pen")]:
                await w.upsert({"order_id": order, "line": line, "sku": sku, "quantity": line})

        await in_table(db, LINES, write)
        assert await LINES.get(db, ("o1", 2)) == {
            "order_id": "o1",
            "line": 2,
            "sku": "ink",
            "quantity": 2,
        }
        assert await LINES.get(db, ("o2", 2)) is None

        async def change(w: TableWriter) -> list[dict[str, Any] | None]:
            await w.load_many([("o1", 1), ("o2", 1), ("o9", 9)])
            await w.delete(("o1", 1))
            await w.update(("o2", 1), quantity=7)
            return [await w.get(k) for k in [("o1", 1), ("o2", 1), ("o9", 9)]]

        got = await in_table(db, LINES, change)
        assert got[0] is None
        assert got[2] is None
        assert got[1] == {"order_id": "o2", "line": 1, "sku": "pen", "quantity": 7}
        rows = await LINES.select(db, where={"sku": "pen"})
        assert [(r["order_id"], r["line"], r["quantity"]) for r in rows] == [("o2", 1, 7)]
        assert await LINES.count(db) == 2
        with pytest.raises(ValueError, match="key"):
            await LINES.get(db, "o1")

    async def test_a_batch_writes_each_changed_row_once(self, db: TransactionalStore) -> None:
        await create(db, LINES)

        async with db.transaction() as tx:
            recording = Recording(tx)
            w = LINES.bind(recording.as_unit_of_work(), LINES.name)
            for quantity in range(3):
                await w.upsert({"order_id": "o", "line": 1, "sku": "pen", "quantity": quantity})
            assert await w.update(("o", 1), sku="ink") == {
                "order_id": "o",
                "line": 1,
                "sku": "ink",
                "quantity": 2,
            }
            await w.upsert({"order_id": "o", "line": 2, "sku": "gone", "quantity": 1})
            await w.delete(("o", 2))
            await w.delete(("o", 3))
            await w.flush()
            await w.flush()  # nothing left to write

        assert recording.batches == [("delete", 2), ("upsert", 1)]
        rows = await LINES.select(db)
        assert [(r["line"], r["sku"], r["quantity"]) for r in rows] == [(1, "ink", 2)]

    async def test_update_of_a_missing_row_gives_none_and_writes_nothing(
        self,
        db: TransactionalStore,
    ) -> None:
        await create(db, LINES)
        assert await in_table(db, LINES, lambda w: w.update(("none", 1), quantity=1)) is None
        assert await LINES.count(db) == 0

        async def bad(w: TableWriter) -> None:
            await w.update(("none", 1), line=2)

        with pytest.raises(ValueError, match="key columns"):
            await in_table(db, LINES, bad)

    async def test_select_filters_sorts_and_pages(self, db: TransactionalStore) -> None:
        await fill_people(db)

        async def ids(**query: Any) -> list[int]:
            return [row["id"] for row in await PEOPLE.select(db, **query)]

        assert await ids() == [1, 2, 3, 4, 5]
        assert await ids(descending=True) == [5, 4, 3, 2, 1]
        # ties broken by key, NULLs last in both directions
        assert await ids(order_by="age") == [2, 5, 1, 3, 4]
        assert await ids(order_by="age", descending=True) == [1, 3, 2, 5, 4]
        # text sorts by code point: upper case, then lower case, then accented
        assert await ids(order_by="name") == [2, 3, 1, 5, 4]
        assert await ids(order_by="joined", descending=True) == [5, 4, 3, 2, 1]
        assert await ids(order_by="age", limit=2, offset=1) == [5, 1]
        assert await ids(where={"age": 30}) == [1, 3]
        assert await ids(where={"age": None}) == [4]
        assert await ids(where={"joined": JAN + timedelta(3)}) == [3]
        assert await ids(where={"name": "' OR 1=1 --"}) == []
        assert await PEOPLE.count(db, {"age": 20}) == 2
        assert await PEOPLE.count(db) == 5

    async def test_deleted_rows_are_gone(self, db: TransactionalStore) -> None:
        await fill_people(db)

        async def remove(w: TableWriter) -> dict[str, Any] | None:
            await w.delete(1)
            await w.delete(99)
            return await w.get(1)

        assert await in_table(db, PEOPLE, remove) is None
        assert await PEOPLE.get(db, 1) is None
        assert await PEOPLE.count(db) == 4

    @pytest.mark.parametrize(
        ("row", "error"),
        [
            ({"id": "x", "count": "1"}, TypeError),
            ({"id": "x", "count": True}, TypeError),
            ({"id": "x", "active": 1}, TypeError),
            ({"id": "x", "ratio": float("nan")}, ValueError),
            ({"id": "x", "count": 2**63}, ValueError),
            ({"id": "x", "seen_at": datetime(2024, 1, 1)}, ValueError),
            ({"id": "x", "nope": 1}, ValueError),
            ({"id": "x\x00"}, ValueError),
            ({"count": 1}, ValueError),
        ],
    )
    async def test_bad_values_are_refused_before_any_sql(
        self, db: TransactionalStore, row: dict[str, Any], error: type[Exception]
    ) -> None:
        await create(db, EVERYTHING)
        with pytest.raises(error):
            await in_table(db, EVERYTHING, lambda w: w.upsert(row))
        assert await EVERYTHING.count(db) == 0

    async def test_bad_queries_are_refused(self, db: TransactionalStore) -> None:
        await create(db, EVERYTHING)
        with pytest.raises(ValueError, match="'nope'"):
            await EVERYTHING.select(db, order_by="nope")
        with pytest.raises(ValueError, match="'info'"):
            await EVERYTHING.select(db, where={"info": {}})
        with pytest.raises(ValueError, match="limit"):
            await EVERYTHING.select(db, limit=0)
        with pytest.raises(ValueError, match="offset"):
            await EVERYTHING.select(db, offset=-1)

    @pytest.mark.parametrize("model", [LINES], ids=["table"])
    async def test_shadow_tables_swap_in_again_and_again(
        self, db: TransactionalStore, model: ReadModel
    ) -> None:
        await create(db, model)
        for round_ in range(3):
            shadow = model.name + SHADOW_SUFFIX
            await create(db, model, shadow)

            async with db.transaction() as tx:
                writer = model.bind(tx, shadow)
                if isinstance(writer, TableWriter):
                    await writer.upsert({"order_id": "o", "line": round_, "sku": "pen"})
                else:
                    await writer.put(f"c{round_}", {"name": f"Round{round_}", "email": None})
                await writer.flush()
            await swap_in(db, model)
        if isinstance(model, Table):
            assert [r["line"] for r in await model.select(db)] == [2]
        else:
            assert [i["name"] for i in (await CUSTOMERS.search(db, "round")).items] == ["Round2"]
            page = await CUSTOMERS.search(db, "ound", match="substring")
            assert [i["name"] for i in page.items] == ["Round2"]


NOTES = DocumentCollection("notes")


class DocumentContract(TransactionalStoreUnderTest):
    """Document read models (:class:`~eskit.projections.DocumentCollection`) on the store."""

    async def test_documents_are_kept_with_a_version(self, db: TransactionalStore) -> None:
        await create(db, NOTES)
        async with db.transaction() as tx:
            writer = NOTES.bind(tx, NOTES.name)
            await writer.put("n1", {"text": "ünï ✓", "tags": ["a"], "n": 2**62})
            await writer.put("n2", {"text": "two"})
            await writer.flush()
        async with db.transaction() as tx:
            writer = NOTES.bind(tx, NOTES.name)
            await writer.update("n1", lambda body: {**body, "text": "changed"})
            await writer.delete("n2")
            await writer.flush()

        note = await NOTES.get(db, "n1")
        assert note is not None
        assert (note.version, note.body) == (2, {"text": "changed", "tags": ["a"], "n": 2**62})
        assert await NOTES.get(db, "n2") is None
        assert await NOTES.count(db) == 1
        assert await NOTES.all(db) == {"n1": note.body}

    async def test_a_document_changed_since_it_was_read_is_a_conflict(
        self, db: TransactionalStore
    ) -> None:
        await create(db, NOTES)
        async with db.transaction() as tx:
            writer = NOTES.bind(tx, NOTES.name)
            await writer.put("n1", {"text": "first"})
            await writer.flush()
        async with db.transaction() as tx:
            stale = NOTES.bind(tx, NOTES.name)
            await stale.get("n1")  # read at version 1
            meanwhile = DocumentChanges(updates=[("n1", 1, '{"text": "meanwhile"}')])
            await tx.documents.write(NOTES.name, NOTES.name, meanwhile)
            await stale.put("n1", {"text": "late"})
            with pytest.raises(DocumentConflictError, match="n1"):
                await stale.flush()

    async def test_creating_a_document_someone_else_created_is_a_conflict(
        self, db: TransactionalStore
    ) -> None:
        await create(db, NOTES)
        async with db.transaction() as tx:
            first = NOTES.bind(tx, NOTES.name)
            second = NOTES.bind(tx, NOTES.name)
            await first.put("n1", {"text": "a"})
            await second.put("n1", {"text": "b"})
            await first.flush()
            with pytest.raises(DocumentConflictError):
                await second.flush()

    async def test_a_document_with_a_nul_character_is_refused(self, db: TransactionalStore) -> None:
        await create(db, NOTES)

        async def put_nul() -> None:
            async with db.transaction() as tx:
                writer = NOTES.bind(tx, NOTES.name)
                await writer.put("n1", {"text": "a\x00b"})
                await writer.flush()

        with pytest.raises(ValueError, match="NUL"):
            await put_nul()
        assert await NOTES.count(db) == 0
