"""Account queries: the read model, its two fallbacks, and read-your-writes."""

from __future__ import annotations

import pytest

from bank_accounts.app import account_repository, build_handler
from bank_accounts.commands import DepositMoney, OpenAccount
from bank_accounts.projections import ACCOUNTS, AccountsById
from bank_accounts.queries import AccountQueries
from eskit.errors import NotCaughtUpError, NotFoundError
from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend

pytestmark = pytest.mark.integration


def open_account(account_id: str, *, balance: int = 100) -> OpenAccount:
    return OpenAccount(
        aggregate_id=account_id,
        email=f"{account_id}@example.com",
        address="1 Main St",
        first_name="Ada",
        last_name="Lovelace",
        balance=balance,
    )


async def test_missing_document_is_rebuilt_and_written_back(sql_store: EventStoreBackend) -> None:
    handler = build_handler(sql_store)
    queries = AccountQueries(sql_store, account_repository(sql_store))
    runner = ProjectionRunner(sql_store, [AccountsById()])
    await runner.prepare()  # tables exist, but nothing projects: the read model lags
    await handler.handle(open_account("a", balance=10))
    await handler.handle(DepositMoney(aggregate_id="a", amount=5, payment_id="p"))
    assert await ACCOUNTS.get(queries.store, "a") is None
    doc = await queries.get("a")
    assert doc["balance"] == 15
    stored = await ACCOUNTS.get(queries.store, "a")
    assert stored is not None
    assert stored.body["balance"] == 15
    # the projection catching up later skips what the written-back document holds
    await runner.catch_up()
    stored = await ACCOUNTS.get(queries.store, "a")
    assert stored is not None
    assert stored.body["balance"] == 15
    assert stored.body["version"] == 2


async def test_read_from_events_and_not_found(sql_store: EventStoreBackend) -> None:
    handler = build_handler(sql_store)
    queries = AccountQueries(sql_store, account_repository(sql_store))
    await ProjectionRunner(sql_store, [AccountsById()]).prepare()
    await handler.handle(open_account("b", balance=10))
    assert (await queries.get("b", source="events"))["balance"] == 10
    with pytest.raises(NotFoundError):
        await queries.get("nobody")
    with pytest.raises(NotFoundError):
        await queries.get("nobody", source="events")


async def test_read_your_writes(sql_store: EventStoreBackend) -> None:
    handler = build_handler(sql_store)
    queries = AccountQueries(sql_store, account_repository(sql_store))
    async with ProjectionRunner(sql_store, [AccountsById()]):
        await handler.handle(open_account("c", balance=10))
        result = await handler.handle(DepositMoney(aggregate_id="c", amount=1, payment_id="x"))
        doc = await queries.get("c", at_least_position=result.position)
        assert doc["balance"] == 11
    with pytest.raises(NotCaughtUpError):
        await queries.get("c", at_least_position=result.position + 10**12, timeout_s=0.1)


async def test_search_by_name_or_email_prefix_sorted_by_balance(
    sql_store: EventStoreBackend,
) -> None:
    from bank_accounts.commands import ChangeEmail
    from bank_accounts.projections import projections

    handler = build_handler(sql_store)
    queries = AccountQueries(sql_store, account_repository(sql_store))
    people = [
        ("a1", "Alice", "Smith", "alice@example.com", 300),
        ("a2", "Alan", "Turing", "alan@computing.org", 100),
        ("a3", "Grace", "Hopper", "grace@navy.mil", 200),
        ("a4", "Alina", "Alimova", "al.alimova@example.com", 50),
    ]
    async with ProjectionRunner(sql_store, projections()) as runner:
        for account_id, first, last, email, balance in people:
            await handler.handle(
                OpenAccount(
                    aggregate_id=account_id,
                    email=email,
                    address="x",
                    first_name=first,
                    last_name=last,
                    balance=balance,
                )
            )
        done = await handler.handle(ChangeEmail(aggregate_id="a3", email="grace@example.com"))
        page = await queries.search("al", at_least_position=done.position)
        assert [a["account_id"] for a in page.items] == ["a1", "a2", "a4"]
        assert page.total == 3
        page = await queries.search("al", sort="balance", descending=False, limit=2, offset=1)
        assert [a["account_id"] for a in page.items] == ["a2", "a1"]
        assert page.total == 3
        page = await queries.search("example", field="email")
        assert [a["account_id"] for a in page.items] == ["a1", "a3", "a4"]
        page = await queries.search("gra hop")
        assert [a["account_id"] for a in page.items] == ["a3"]
        assert page.items[0]["email"] == "grace@example.com"
        assert (await queries.search("navy")).total == 0
        await runner.stop()


async def test_search_inside_words(sql_store: EventStoreBackend) -> None:
    from bank_accounts.projections import projections

    handler = build_handler(sql_store)
    queries = AccountQueries(sql_store, account_repository(sql_store))
    async with ProjectionRunner(sql_store, projections()):
        done = await handler.handle(open_account("zz-1", balance=10))
        page = await queries.search("ovela", match="substring", at_least_position=done.position)
        assert [a["account_id"] for a in page.items] == ["zz-1"]
