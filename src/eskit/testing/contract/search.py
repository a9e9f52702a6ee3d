"""What every transactional store must do with search indexes.

Documents are found by the words of their text fields, cut the same way for every backend:
as prefixes, whole words or substrings, in one field or all, sorted and paged with a total.
Hostile text is only ever words; text with characters but no word finds nothing.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from eskit.projections.readmodel import SHADOW_SUFFIX, ReadModel
from eskit.projections.search import SearchIndex, SearchWriter
from eskit.projections.tables import Table, TableWriter
from eskit.store import TransactionalStore
from eskit.testing.contract._read_models import (
    CUSTOMERS,
    DOCS,
    HOSTILE,
    SUBSTRING_HOSTILE,
    Recording,
    create,
    fill_customers,
    found,
    found_or_refused,
    ids,
    in_index,
    random_docs,
    random_query,
    reference,
    reference_keys,
    substrings,
    swap_in,
)
from eskit.testing.contract.hooks import TransactionalStoreUnderTest

__all__ = ["SearchContract"]


class SearchContract(TransactionalStoreUnderTest):
    """Search read models (:class:`~eskit.projections.SearchIndex`) on the store."""

    async def test_prefix_search_matches_the_beginnings_of_words(
        self, db: TransactionalStore
    ) -> None:
        await fill_customers(db)
        assert await found(db, "ali") == ids("c1", "c3")
        assert await found(db, "smi ali") == ids("c1")
        assert await found(db, "ALI  smi!") == ids("c1")
        assert await found(db, "alice smith") == ids("c1")
        assert await found(db, "mith") == []
        assert await found(db, "zzz") == []
        assert await found(db, "") == ids(*DOCS)
        assert await found(db, "ex") == ids("c1")  # a word of the e-mail address

    async def test_whole_word_search(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        assert await found(db, "ali", match="word") == []
        assert await found(db, "alice", match="word") == ids("c1")
        assert await found(db, "Smith alice", match="word") == ids("c1")
        assert await found(db, "example com", match="word") == ids("c1")

    async def test_field_search_looks_in_that_field_only(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        assert await found(db, "alice@ex", field="email") == ids("c1")
        assert await found(db, "exa", field="name") == []
        assert await found(db, "exa", field="email") == ids("c1")
        assert await found(db, "stone", field="name") == ids("c2")
        assert await found(db, "stone", field="email", match="word") == ids("c2")
        assert await found(db, "near", field="name") == ids("c6")
        assert await found(db, "near", field="email") == ids("c3")
        assert await found(db, "", field="email") == ids(*DOCS)
        with pytest.raises(ValueError, match="'phone'"):
            await found(db, "x", field="phone")

    async def test_sorting_breaks_ties_by_id_and_puts_missing_values_last(
        self,
        db: TransactionalStore,
    ) -> None:
        await fill_customers(db)
        assert await found(db, sort="balance") == ids("c4", "c2", "c6", "c1", "c3", "c5")
        assert await found(db, sort="balance", descending=True) == ids(
            "c1", "c3", "c2", "c6", "c4", "c5"
        )
        assert await found(db, "a", sort="balance", descending=True) == ids("c1", "c3", "c6")
        # text sorts by code point on both backends: digits, then capitals, then the rest
        assert await found(db, sort="name") == ids("c4", "c1", "c2", "c3", "c6", "c5")
        assert await found(db, sort="joined") == ids("c1", "c2", "c3", "c4", "c5", "c6")
        assert await found(db, descending=True) == ids(*reversed(DOCS))
        with pytest.raises(ValueError, match="'nope'"):
            await found(db, sort="nope")

    async def test_pages_and_total(self, db: TransactionalStore) -> None:
        docs = {
            f"d{n:02}": {"name": f"Item {n}", "email": f"i{n}@x.io", "balance": n % 3}
            for n in range(25)
        }
        await fill_customers(db, docs)
        pages = [
            await CUSTOMERS.search(db, "item", sort="balance", limit=10, offset=o)
            for o in (0, 10, 20)
        ]
        assert [len(p.items) for p in pages] == [10, 10, 5]
        assert {p.total for p in pages} == {25}
        seen = [item["email"] for p in pages for item in p.items]
        expected = sorted(docs, key=lambda d: (docs[d]["balance"], d))
        assert seen == [docs[d]["email"] for d in expected]
        past = await CUSTOMERS.search(db, "item", limit=10, offset=30)
        assert (past.items, past.total, past.limit, past.offset) == ([], 25, 10, 30)
        assert (await CUSTOMERS.search(db, "nothing", offset=5)).total == 0
        assert (await CUSTOMERS.search(db, "i1", field="email", limit=3)).total == 11
        for limit, offset in [(0, 0), (1001, 0), (10, -1)]:
            with pytest.raises(ValueError, match=r"limit|offset"):
                await CUSTOMERS.search(db, limit=limit, offset=offset)

    async def test_unicode_text(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        assert await found(db, "zo") == ids("c5")
        assert await found(db, "ZOË ærø") == ids("c5")
        assert await found(db, "Zoe\u0308", match="word") == ids("c5")  # decomposed ë
        assert await found(db, "zoe") == []  # accents matter, alike on both backends
        assert await found(db, "日本") == ids("c5")
        assert await found(db, "日本語テキスト", match="word", field="name") == ids("c5")

    @pytest.mark.parametrize("text", HOSTILE)
    async def test_hostile_queries_are_only_words(self, db: TransactionalStore, text: str) -> None:
        await fill_customers(db)
        for field in (None, "name", "email"):
            for match in ("prefix", "word", "substring"):
                expected = reference(text, field, match)
                got = await found_or_refused(db, text, field=field, match=match)
                assert got == expected, (field, match)

    async def test_some_hostile_queries_in_particular(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        assert await found(db, "ali OR bob") == []  # OR is a word to match, not an operator
        assert await found(db, "or", match="word") == ids("c4")
        assert await found(db, "or") == ids("c2", "c4")  # and "org"
        assert await found(db, "pure_cot") == ids("c4")
        assert await found(db, "l_ce") == []  # _ is no wildcard (as LIKE would have it)
        assert await found(db, "name:ali") == []  # nor is : a column filter
        assert await found(db, "o'brien") == ids("c6")
        assert await found(db, "%") == []  # characters but no word: nothing
        assert await found(db, "  ") == ids(*DOCS)  # no characters but spaces: everything, as ""

    async def test_put_replaces_words_and_delete_removes_them(self, db: TransactionalStore) -> None:
        await fill_customers(db)

        async def change(w: SearchWriter) -> list[dict[str, Any] | None]:
            await w.put("c1", {**DOCS["c1"], "name": "Alicia Jones"})
            await w.delete("c2")
            await w.put("c9", {"name": "Temporary", "email": "t@x.io"})
            await w.delete("c9")
            return [await w.get("c1"), await w.get("c2"), await w.get("c9")]

        got = await in_index(db, CUSTOMERS, change)
        assert got[0] is not None
        assert got[0]["name"] == "Alicia Jones"
        assert got[0]["joined"] == "2024-01-01T00:00:00+00:00"  # as JSON gives it back
        assert got[1:] == [None, None]
        assert await found(db, "smith") == []
        assert await found(db, "jones") == ids("c1")
        assert await found(db, "bob") == []
        assert await found(db, "temporary") == []
        assert await CUSTOMERS.get(db, "c2") is None
        assert (await CUSTOMERS.search(db)).total == 5

    async def test_a_search_batch_writes_each_document_once(self, db: TransactionalStore) -> None:
        await create(db, CUSTOMERS)

        async with db.transaction() as tx:
            recording = Recording(tx)
            w = CUSTOMERS.bind(recording.as_unit_of_work(), CUSTOMERS.name)
            for n in range(3):
                await w.put("c1", {"name": f"Name{n}", "email": "e@x.io", "balance": n})
            assert await w.get("c1") == {"name": "Name2", "email": "e@x.io", "balance": 2}
            await w.flush()

        assert recording.batches == [("write", 1)]
        assert await found(db, "name2") == ["e@x.io"]
        assert await found(db, "name1") == []

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({"name": 5}, TypeError),
            ({"balance": "5"}, TypeError),
            ({"balance": 1.5}, TypeError),
            ({"joined": "yesterday"}, ValueError),
            ({"joined": "2024-01-01T00:00:00"}, ValueError),  # no time zone
            ({"name": "nul\x00"}, ValueError),
        ],
    )
    async def test_bad_documents_are_refused_before_any_sql(
        self, db: TransactionalStore, body: dict[str, Any], error: type[Exception]
    ) -> None:
        await create(db, CUSTOMERS)
        with pytest.raises(error):
            await in_index(db, CUSTOMERS, lambda w: w.put("x", body))
        assert (await CUSTOMERS.search(db)).total == 0

    async def test_bad_searches_and_definitions_are_refused(self, db: TransactionalStore) -> None:
        await create(db, CUSTOMERS)
        with pytest.raises(ValueError, match="at most"):
            await CUSTOMERS.search(db, " ".join(f"w{n}" for n in range(40)))
        with pytest.raises(ValueError, match="id"):
            SearchIndex("s", ["id"])
        with pytest.raises(ValueError, match="twice"):
            SearchIndex("s", ["name"], {"Name": str})
        with pytest.raises(ValueError, match="JSON"):
            SearchIndex("s", ["name"], {"tags": list})

    @pytest.mark.parametrize("model", [CUSTOMERS], ids=["search"])
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

    async def test_substrings_match_anywhere_in_words(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        assert await substrings(db, "mith") == ids("c1")
        assert await substrings(db, "example") == ids("c1")  # in the e-mail address
        assert await substrings(db, "ali") == ids("c1", "c3")  # Alice, Alistair
        assert await substrings(db, "lic mit") == ids("c1")  # every word, anywhere
        assert await substrings(db, "lic tone") == []
        assert await substrings(db, "one") == ids("c2")  # Stone, stone.org
        assert await substrings(db, "icesmith") == []  # never across two words
        assert await substrings(db, "comalice") == []  # nor across two fields
        assert await substrings(db, "") == ids(*DOCS)
        assert await substrings(db, "zzz") == []

    async def test_field_substring_search_looks_in_that_field_only(
        self, db: TransactionalStore
    ) -> None:
        await fill_customers(db)
        assert await substrings(db, "xam", field="email") == ids("c1")
        assert await substrings(db, "xam", field="name") == []
        assert await substrings(db, "ear", field="name") == ids("c6")  # NEAR
        assert await substrings(db, "ear", field="email") == ids("c3")  # near.io
        assert await substrings(db, "ton", field="name") == ids("c2", "c4")  # Stone, Cotton
        assert await substrings(db, "ton", field="email") == ids("c2")
        assert await substrings(db, "mith ali", field="name") == ids("c1")
        assert await substrings(db, "mith ali", field="email") == []
        with pytest.raises(ValueError, match="'phone'"):
            await substrings(db, "abc", field="phone")

    async def test_substrings_are_case_and_unicode_normalized(self, db: TransactionalStore) -> None:
        # Greek ODOS, upper case: lower() ends it with a final sigma
        greek = {"name": "\u039f\u0394\u039f\u03a3 Straße", "email": "g@x.io"}
        await fill_customers(db, {**DOCS, "c7": greek})
        assert await substrings(db, "MITH") == ids("c1")
        assert await substrings(db, "ØSKØ") == ids("c5")
        assert await substrings(db, "Zoe\u0308") == ids("c5")  # decomposed ë
        assert await substrings(db, "zoe") == []  # accents matter
        assert await substrings(db, "本語テ", field="name") == ids("c5")
        assert await substrings(db, "\u0394\u039f\u03a3") == ["g@x.io"]  # lower(): final sigma
        assert await substrings(db, "\u03b4\u03bf\u03c3") == []  # exact: sigma is no final sigma
        assert await substrings(db, "RASSE") == []  # lower(), not casefold(): ß stays ß
        assert await substrings(db, "RAß") == ["g@x.io"]

    async def test_short_substring_words_are_refused(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        for text in ("al", "smith a", "日本", "Zoë ab"):
            with pytest.raises(ValueError, match="at least 3 characters"):
                await substrings(db, text)
        assert await substrings(db, "%") == []  # characters, but no word: nothing
        assert await substrings(db, "") == ids(*DOCS)  # no text at all: everything
        assert await found(db, "al") == ids("c1", "c3")  # prefix words may be short
        with pytest.raises(ValueError, match="match must be one of"):
            await found(db, "alice", match="contains")

    async def test_hostile_substring_queries_are_only_words(self, db: TransactionalStore) -> None:
        await fill_customers(db)
        for text in SUBSTRING_HOSTILE:
            for field in (None, "name", "email"):
                expected = reference(text, field, "substring")
                got = await found_or_refused(db, text, field=field, match="substring")
                assert got == expected, (text, field)
        assert await substrings(db, "smi%zzz") == []  # % is no wildcard
        assert await substrings(db, "ice_smi") == ids("c1")  # two words, not a wildcard

    async def test_substring_search_agrees_with_a_plain_python_reference(
        self,
        db: TransactionalStore,
    ) -> None:
        rng = random.Random(20240506)
        docs = random_docs(rng, 60)
        await fill_customers(db, docs)

        async def check() -> None:
            for _ in range(40):
                text = random_query(rng, docs)
                for field in (None, "name", "email"):
                    for match in ("prefix", "word", "substring"):
                        try:
                            page = await CUSTOMERS.search(
                                db, text, field=field, match=match, limit=1000
                            )
                        except ValueError:
                            got: Any = ValueError
                        else:
                            got = [item["key"] for item in page.items]
                            assert page.total == len(got)
                        expected = reference_keys(text, field, match, docs)
                        assert got == expected, (text, field, match)

        await check()

        # change and delete some documents: their words and trigrams follow
        changed = random_docs(rng, len(docs))

        async def change(w: SearchWriter) -> None:
            for key in sorted(docs)[::3]:
                docs[key] = changed[key]
                await w.put(key, docs[key])
            for key in sorted(docs)[1::7]:
                del docs[key]
                await w.delete(key)

        await in_index(db, CUSTOMERS, change)
        await check()

    async def test_every_table_is_named(self, db: TransactionalStore) -> None:
        index = SearchIndex("things", ["title"])
        assert index.table_names("things__rebuild") == [
            "things__rebuild",
            "things__rebuild_fts",
            "things__rebuild_trgm",
        ]
        async with db.transaction() as tx:
            await index.create(tx, "things")
        for table in index.table_names("things"):
            assert await db.committed.schema.exists(table), table
