"""The gRPC API over a real channel, on both backends: every method, every error.

Each failure is checked for its status code and for the stable eskit error code in the
trailing metadata (``eskit-error-code``), the contract clients program against.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest

from bank_accounts.app import BankAccounts
from bank_accounts.grpc_api import grpc_handlers
from bank_accounts.proto import bank_accounts_pb2 as pb
from bank_accounts.tests.grpc_client import BankAccountsClient, failure
from bank_accounts.tests.support import SYMBOL_SEARCHES, RuntimeFactory
from eskit.app.metadata import api_key_actor
from eskit.grpc import create_server
from eskit.serving import ServiceRuntime
from eskit.store import EventStoreBackend, StoredEvent

pytestmark = pytest.mark.integration

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@asynccontextmanager
async def connect(runtime: ServiceRuntime) -> AsyncIterator[BankAccountsClient]:
    """A client of the runtime's gRPC server over a real loopback channel."""
    assert runtime.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        yield BankAccountsClient(channel)


@pytest.fixture
async def bank(runtime: ServiceRuntime) -> AsyncIterator[BankAccountsClient]:
    async with connect(runtime) as client:
        yield client


async def events_through(store: EventStoreBackend, position: int) -> list[StoredEvent]:
    """Every event in the store once a reader may see ``position``.

    On PostgreSQL another open transaction can hold the read horizon back for a moment,
    so the store's head is waited for rather than read once.
    """
    deadline = time.monotonic() + 5
    while await store.last_position() < position:
        assert time.monotonic() < deadline, f"position {position} never became visible"
        await asyncio.sleep(0.01)
    return await store.read_batch(after=0, limit=10_000)


async def events_of(client: httpx.AsyncClient, account_id: str) -> list[dict[str, Any]]:
    answer = await client.get(f"/api/v1/accounts/{account_id}/events")
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()
    return events


# -- commands ------------------------------------------------------------------------------


async def test_create_account_answers_id_version_and_position(
    bank: BankAccountsClient, runtime: ServiceRuntime
) -> None:
    reply = await bank.open(email="ann@example.com", balance=1000)
    assert reply.id
    assert reply.version == 1
    [event] = await events_through(runtime.store, reply.position)
    assert (event.stream_id, event.version, event.position) == (reply.id, 1, reply.position)

    account = await bank.get_account(pb.GetAccountRequest(id=reply.id, min_position=reply.position))
    assert account.id == reply.id
    assert (account.email, account.address) == ("ann@example.com", "1 Main St")
    assert (account.first_name, account.last_name) == ("Ann", "Lee")
    assert account.balance == pb.Money(amount=1000, currency="USD")
    assert (account.status, account.version) == ("active", 1)
    assert account.created_at.endswith("Z")
    assert account.created_at == account.updated_at


async def test_create_account_keeps_given_currency_and_status(bank: BankAccountsClient) -> None:
    reply = await bank.open(balance=0, currency="EUR", status="frozen")
    account = await bank.get_account(pb.GetAccountRequest(id=reply.id, min_position=reply.position))
    assert account.balance == pb.Money(amount=0, currency="EUR")
    assert account.status == "frozen"


async def test_deposit_withdraw_and_change_email(bank: BankAccountsClient) -> None:
    opened = await bank.open(balance=1000)
    deposited = await bank.deposit(pb.PaymentRequest(id=opened.id, amount=250, payment_id="p-1"))
    withdrawn = await bank.withdraw(pb.PaymentRequest(id=opened.id, amount=400, payment_id="p-2"))
    changed = await bank.change_email(pb.ChangeEmailRequest(id=opened.id, email="ann@new.example"))

    assert [r.id for r in (deposited, withdrawn, changed)] == [opened.id] * 3
    assert [r.version for r in (deposited, withdrawn, changed)] == [2, 3, 4]
    positions = [r.position for r in (opened, deposited, withdrawn, changed)]
    assert positions == sorted(set(positions))

    account = await bank.get_account(pb.GetAccountRequest(id=opened.id, min_version=4))
    assert account.balance.amount == 1000 + 250 - 400
    assert account.email == "ann@new.example"
    assert account.version == 4
    assert account.updated_at > account.created_at


async def test_repeated_payment_changes_nothing(bank: BankAccountsClient) -> None:
    opened = await bank.open(balance=100)
    payment = pb.PaymentRequest(id=opened.id, amount=50, payment_id="p-1")
    first = await bank.deposit(payment)
    again = await bank.deposit(payment)
    assert (first.version, again.version) == (2, 2)
    account = await bank.get_account(pb.GetAccountRequest(id=opened.id, min_version=2))
    assert account.balance.amount == 150


async def test_changing_to_the_same_email_changes_nothing(bank: BankAccountsClient) -> None:
    opened = await bank.open(email="ann@example.com")
    same = await bank.change_email(pb.ChangeEmailRequest(id=opened.id, email="ann@example.com"))
    assert same.version == 1


# -- reads ---------------------------------------------------------------------------------


async def test_get_account_from_the_event_store_or_the_read_model(
    make_runtime: RuntimeFactory,
) -> None:
    # without projections the read model only holds what a read wrote back: it goes stale
    runtime = await make_runtime(run_projections=False)
    async with connect(runtime) as bank:
        opened = await bank.open(balance=1000)
        first = await bank.get_account(pb.GetAccountRequest(id=opened.id))
        assert (first.version, first.balance.amount) == (1, 1000)
        await bank.deposit(pb.PaymentRequest(id=opened.id, amount=5, payment_id="p-1"))

        stale = await bank.get_account(pb.GetAccountRequest(id=opened.id))
        fresh = await bank.get_account(pb.GetAccountRequest(id=opened.id, from_event_store=True))
        assert (stale.version, stale.balance.amount) == (1, 1000)
        assert (fresh.version, fresh.balance.amount) == (2, 1005)
        assert fresh.created_at == first.created_at


async def test_min_version_and_min_position_read_your_writes(bank: BankAccountsClient) -> None:
    opened = await bank.open(balance=0)
    for n in range(1, 4):
        await bank.deposit(pb.PaymentRequest(id=opened.id, amount=n, payment_id=f"p-{n}"))
    last = await bank.deposit(pb.PaymentRequest(id=opened.id, amount=10, payment_id="p-last"))

    by_version = await bank.get_account(pb.GetAccountRequest(id=opened.id, min_version=5))
    assert (by_version.version, by_version.balance.amount) == (5, 16)
    by_position = await bank.get_account(
        pb.GetAccountRequest(id=opened.id, min_position=last.position)
    )
    assert by_position == by_version
    from_store = await bank.get_account(
        pb.GetAccountRequest(id=opened.id, from_event_store=True, min_version=5)
    )
    assert from_store == by_version


async def test_get_account_at_a_version(bank: BankAccountsClient) -> None:
    opened = await bank.open(balance=1000)
    await bank.deposit(pb.PaymentRequest(id=opened.id, amount=250, payment_id="p-1"))
    await bank.withdraw(pb.PaymentRequest(id=opened.id, amount=1200, payment_id="p-2"))

    balances = []
    for version in (1, 2, 3):
        account = await bank.get_account(pb.GetAccountRequest(id=opened.id, at_version=version))
        assert account.version == version
        balances.append(account.balance.amount)
    assert balances == [1000, 1250, 50]

    beyond = await failure(bank.get_account(pb.GetAccountRequest(id=opened.id, at_version=4)))
    assert (beyond.status, beyond.code) == (grpc.StatusCode.NOT_FOUND, "not_found")


async def test_get_account_as_of_a_moment(bank: BankAccountsClient) -> None:
    opened = await bank.open(balance=1000)
    v1 = await bank.get_account(pb.GetAccountRequest(id=opened.id, from_event_store=True))
    await asyncio.sleep(0.05)
    await bank.deposit(pb.PaymentRequest(id=opened.id, amount=250, payment_id="p-1"))
    v2 = await bank.get_account(pb.GetAccountRequest(id=opened.id, from_event_store=True))

    created = datetime.fromisoformat(v1.created_at)
    between = (created + timedelta(milliseconds=10)).isoformat()
    then = await bank.get_account(pb.GetAccountRequest(id=opened.id, as_of=between))
    assert (then.version, then.balance.amount) == (1, 1000)
    # any offset names the same instant
    in_paris = (created + timedelta(milliseconds=10)).astimezone(timezone(timedelta(hours=1)))
    assert (
        await bank.get_account(pb.GetAccountRequest(id=opened.id, as_of=in_paris.isoformat()))
        == then
    )
    now = await bank.get_account(pb.GetAccountRequest(id=opened.id, as_of=v2.updated_at))
    assert (now.version, now.balance.amount) == (2, 1250)

    before = (created - timedelta(seconds=1)).isoformat()
    missing = await failure(bank.get_account(pb.GetAccountRequest(id=opened.id, as_of=before)))
    assert (missing.status, missing.code) == (grpc.StatusCode.NOT_FOUND, "not_found")


async def test_search_pages_by_balance_ascending(bank: BankAccountsClient) -> None:
    balances = [500, 100, 400, 200, 300]
    for n, balance in enumerate(balances):
        await bank.open(
            email=f"holder{n}@example.com", first_name="Zelda", last_name=f"N{n}", balance=balance
        )
    other = await bank.open(email="other@example.com", first_name="Bob", last_name="Ray", balance=1)

    pages = []
    for page in (1, 2, 3):
        found = await bank.search_accounts(
            pb.SearchAccountsRequest(search="zel", page=page, size=2, min_position=other.position)
        )
        assert (found.page, found.size, found.total) == (page, 2, 5)
        assert found.has_more == (page < 3)
        pages.append([item.balance.amount for item in found.items])
    assert pages == [[100, 200], [300, 400], [500]]

    past_the_end = await bank.search_accounts(
        pb.SearchAccountsRequest(search="zel", page=4, size=2)
    )
    assert (list(past_the_end.items), past_the_end.total, past_the_end.has_more) == ([], 5, False)

    everyone = await bank.search_accounts(pb.SearchAccountsRequest())
    assert (everyone.page, everyone.size, everyone.total) == (1, 10, 6)
    amounts = [item.balance.amount for item in everyone.items]
    assert amounts == sorted(amounts)
    assert amounts[0] == 1


async def test_search_finds_by_email_and_name_prefix(bank: BankAccountsClient) -> None:
    opened = await bank.open(email="quentin@example.com", first_name="Quentin", last_name="Blake")
    await bank.open(email="ann@example.com", first_name="Ann", last_name="Lee")
    for text in ("quen", "blak", "quentin@example.com"):
        found = await bank.search_accounts(
            pb.SearchAccountsRequest(search=text, min_position=opened.position)
        )
        assert [item.id for item in found.items] == [opened.id], text


async def test_a_search_of_symbols_only_matches_no_account(bank: BankAccountsClient) -> None:
    opened = await bank.open(email="ann@example.com", first_name="Ann", last_name="Lee")
    for text in SYMBOL_SEARCHES:
        found = await bank.search_accounts(
            pb.SearchAccountsRequest(search=text, min_position=opened.position)
        )
        assert (list(found.items), found.total, found.has_more) == ([], 0, False), text
    everyone = await bank.search_accounts(pb.SearchAccountsRequest(search=""))
    assert [item.id for item in everyone.items] == [opened.id]


# -- errors --------------------------------------------------------------------------------


async def test_unknown_accounts_are_not_found(bank: BankAccountsClient) -> None:
    calls: list[Awaitable[object]] = [
        bank.get_account(pb.GetAccountRequest(id="nope")),
        bank.get_account(pb.GetAccountRequest(id="nope", from_event_store=True)),
        bank.get_account(pb.GetAccountRequest(id="nope", at_version=1)),
        bank.get_account(pb.GetAccountRequest(id="nope", min_version=1)),
        bank.deposit(pb.PaymentRequest(id="nope", amount=1, payment_id="p")),
        bank.withdraw(pb.PaymentRequest(id="nope", amount=1, payment_id="p")),
        bank.change_email(pb.ChangeEmailRequest(id="nope", email="a@b.example")),
    ]
    for call in calls:
        failed = await failure(call)
        assert (failed.status, failed.code) == (grpc.StatusCode.NOT_FOUND, "not_found")
        assert "nope" in failed.details


async def test_invalid_commands_are_invalid_arguments(bank: BankAccountsClient) -> None:
    opened = await bank.open()
    calls: dict[str, Awaitable[object]] = {
        "zero amount": bank.deposit(pb.PaymentRequest(id=opened.id, amount=0, payment_id="p")),
        "negative withdrawal": bank.withdraw(
            pb.PaymentRequest(id=opened.id, amount=-5, payment_id="p")
        ),
        "no payment id": bank.deposit(pb.PaymentRequest(id=opened.id, amount=5)),
        "bad email": bank.create_account(
            pb.CreateAccountRequest(email="not-an-email", first_name="A", last_name="B")
        ),
        "bad new email": bank.change_email(pb.ChangeEmailRequest(id=opened.id, email="x@y")),
        "negative balance": bank.create_account(
            pb.CreateAccountRequest(email="a@b.example", first_name="A", last_name="B", balance=-1)
        ),
        "no first name": bank.create_account(
            pb.CreateAccountRequest(email="a@b.example", address="1 Lane", last_name="B")
        ),
        "no address": bank.create_account(
            pb.CreateAccountRequest(email="a@b.example", first_name="A", last_name="B")
        ),
        "bad currency": bank.create_account(
            pb.CreateAccountRequest(
                email="a@b.example", first_name="A", last_name="B", currency="$"
            )
        ),
        "no account id": bank.deposit(pb.PaymentRequest(amount=5, payment_id="p")),
    }
    for name, call in calls.items():
        failed = await failure(call)
        assert (failed.status, failed.code) == (INVALID, "validation_error"), name


@pytest.mark.parametrize("field", ["address", "first_name", "last_name"])
async def test_an_empty_name_or_address_is_an_invalid_argument_naming_it(
    bank: BankAccountsClient, runtime: ServiceRuntime, field: str
) -> None:
    fields: dict[str, Any] = {
        "email": "a@b.example",
        "address": "1 Lane",
        "first_name": "A",
        "last_name": "B",
    }
    request = pb.CreateAccountRequest(**{**fields, field: ""})
    failed = await failure(bank.create_account(request))

    assert (failed.status, failed.code) == (INVALID, "validation_error")
    assert (
        failed.details == f"invalid OpenAccount: {field}: String should have at least 1 character"
    )
    assert await runtime.store.last_position() == 0


async def test_invalid_queries_are_invalid_arguments(bank: BankAccountsClient) -> None:
    opened = await bank.open()
    bad = [
        pb.SearchAccountsRequest(page=-1),
        pb.SearchAccountsRequest(size=101),
        pb.SearchAccountsRequest(size=-1),
        pb.SearchAccountsRequest(search="x" * 201),
        pb.SearchAccountsRequest(min_position=-1),
        pb.SearchAccountsRequest(search=" ".join(f"w{n}" for n in range(33))),  # 33 words
    ]
    for request in bad:
        failed = await failure(bank.search_accounts(request))
        assert (failed.status, failed.code) == (INVALID, "validation_error"), request

    bad_gets = [
        pb.GetAccountRequest(id=opened.id, as_of="yesterday"),
        pb.GetAccountRequest(id=opened.id, as_of="2025-01-01T00:00:00"),  # no offset
        pb.GetAccountRequest(id=opened.id, min_version=-1),
        pb.GetAccountRequest(id=opened.id, min_position=-1),
        pb.GetAccountRequest(id=opened.id, at_version=-1),
        # valid ISO-8601, but not a moment of the years 1 to 9999 once in UTC
        pb.GetAccountRequest(id=opened.id, as_of="0001-01-01T00:00:00+14:00"),
        pb.GetAccountRequest(id=opened.id, as_of="9999-12-31T23:59:59-14:00"),
    ]
    for get in bad_gets:
        failed = await failure(bank.get_account(get))
        assert (failed.status, failed.code) == (INVALID, "validation_error"), get

    # the sizes at the edges are fine
    for request in (
        pb.SearchAccountsRequest(size=100, min_position=opened.position),
        pb.SearchAccountsRequest(size=1, min_position=opened.position),
    ):
        assert (await bank.search_accounts(request)).total == 1


async def test_strings_with_nul_characters_are_invalid_arguments(
    bank: BankAccountsClient,
) -> None:
    # PostgreSQL cannot store a NUL: refused up front on both backends alike
    opened = await bank.open()
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "first_name": lambda: bank.open(first_name="A\x00"),
        "email": lambda: bank.open(email="a\x00@b.example"),
        "payment_id": lambda: bank.deposit(
            pb.PaymentRequest(id=opened.id, amount=1, payment_id="p\x00")
        ),
        "id": lambda: bank.withdraw(pb.PaymentRequest(id="\x00", amount=1, payment_id="p")),
        "id ": lambda: bank.get_account(pb.GetAccountRequest(id="a\x00b")),
        "search": lambda: bank.search_accounts(pb.SearchAccountsRequest(search="a\x00")),
    }
    for field, call in calls.items():
        failed = await failure(call())
        assert (failed.status, failed.code) == (INVALID, "validation_error"), field
        assert field.strip() in failed.details
    account = await bank.get_account(pb.GetAccountRequest(id=opened.id, from_event_store=True))
    assert account.version == 1


async def test_business_rules_are_failed_preconditions(bank: BankAccountsClient) -> None:
    opened = await bank.open(balance=100)
    too_much = await failure(
        bank.withdraw(pb.PaymentRequest(id=opened.id, amount=101, payment_id="p-1"))
    )
    assert (too_much.status, too_much.code) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "insufficient_funds",
    )

    await bank.deposit(pb.PaymentRequest(id=opened.id, amount=10, payment_id="p-2"))
    for conflicting in (
        bank.deposit(pb.PaymentRequest(id=opened.id, amount=11, payment_id="p-2")),
        bank.withdraw(pb.PaymentRequest(id=opened.id, amount=10, payment_id="p-2")),
    ):
        failed = await failure(conflicting)
        assert (failed.status, failed.code) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "payment_conflict",
        )
    account = await bank.get_account(pb.GetAccountRequest(id=opened.id, from_event_store=True))
    assert (account.version, account.balance.amount) == (2, 110)


async def test_reads_that_cannot_catch_up_exceed_their_deadline(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = await make_runtime(run_projections=False, consistency_timeout_s=0.3)
    async with connect(runtime) as bank:
        opened = await bank.open()
        lagging: list[Callable[[], Awaitable[object]]] = [
            lambda: bank.get_account(
                pb.GetAccountRequest(id=opened.id, min_position=opened.position)
            ),
            lambda: bank.get_account(pb.GetAccountRequest(id=opened.id, min_version=1)),
            lambda: bank.search_accounts(pb.SearchAccountsRequest(min_position=opened.position)),
        ]
        for call in lagging:
            started = time.monotonic()  # a call starts when made: time it from there
            failed = await failure(call())
            assert (failed.status, failed.code) == (
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "not_caught_up",
            )
            assert 0.25 <= time.monotonic() - started < 3


async def test_a_version_not_yet_written_exceeds_the_deadline(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = await make_runtime(consistency_timeout_s=0.3)
    async with connect(runtime) as bank:
        opened = await bank.open()
        for request in (
            pb.GetAccountRequest(id=opened.id, min_version=2),
            pb.GetAccountRequest(id=opened.id, min_version=2, from_event_store=True),
        ):
            failed = await failure(bank.get_account(request))
            assert (failed.status, failed.code) == (
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "not_caught_up",
            )


async def test_api_keys_are_required_when_configured(make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime(api_keys="k1,k2")
    async with connect(runtime) as bank:
        for metadata in (
            (),
            (("authorization", "Bearer wrong"),),
            (("authorization", "k1"),),
            (("authorization", "Basic k1"),),
            (("authorization", "Bearer "),),
        ):
            for call in (
                bank.open(metadata=metadata),
                bank.search_accounts(pb.SearchAccountsRequest(), metadata=metadata),
            ):
                failed = await failure(call)
                assert (failed.status, failed.code) == (
                    grpc.StatusCode.UNAUTHENTICATED,
                    "unauthorized",
                ), metadata
        auth = (("authorization", "Bearer k1"),)
        opened = await bank.open(metadata=auth)
        assert [e.stream_id for e in await events_through(runtime.store, opened.position)] == [
            opened.id
        ]  # the refused calls wrote nothing
        account = await bank.get_account(
            pb.GetAccountRequest(id=opened.id, min_position=opened.position), metadata=auth
        )
        assert account.id == opened.id
        other_key = (("authorization", "bearer  k2 "),)
        found = await bank.search_accounts(
            pb.SearchAccountsRequest(min_position=opened.position), metadata=other_key
        )
        assert [item.id for item in found.items] == [opened.id]

    records = await runtime.store.read_stream(opened.id)
    assert records[0].metadata["actor"] == api_key_actor("k1")


async def test_messages_over_the_limit_are_refused(make_runtime: RuntimeFactory) -> None:
    runtime = await make_runtime(max_body_bytes=1024)
    async with connect(runtime) as bank:
        failed = await failure(bank.open(address="x" * 2000))
        assert failed.status == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert failed.code is None  # refused by gRPC itself, before the service sees it
        small = await bank.open(address="x" * 400)
        assert len(await events_through(runtime.store, small.position)) == 1


# -- idempotency keys and request ids -------------------------------------------------------


async def test_a_retry_with_an_idempotency_key_returns_the_first_reply(
    bank: BankAccountsClient, runtime: ServiceRuntime
) -> None:
    key = (("idempotency-key", "create-1"),)
    first = await bank.open(metadata=key, balance=70)
    again = await bank.open(metadata=key, balance=70)
    assert again == first

    pay = (("idempotency-key", "pay-1"),)
    deposit = pb.PaymentRequest(id=first.id, amount=5, payment_id="p-1")
    paid = await bank.deposit(deposit, metadata=pay)
    assert await bank.deposit(deposit, metadata=pay) == paid

    # the retries appended nothing: one account, two events
    events = await events_through(runtime.store, paid.position)
    assert [(e.stream_id, e.version) for e in events] == [(first.id, 1), (first.id, 2)]
    found = await bank.search_accounts(pb.SearchAccountsRequest(min_position=paid.position))
    assert found.total == 1
    assert found.items[0].balance.amount == 75


async def test_an_idempotency_key_reused_for_another_request_is_refused(
    bank: BankAccountsClient, runtime: ServiceRuntime
) -> None:
    key = (("idempotency-key", "k-1"),)
    first = await bank.open(metadata=key, balance=70)
    reused = await failure(bank.open(metadata=key, balance=71))
    assert (reused.status, reused.code) == (INVALID, "idempotency_key_reused")

    await bank.deposit(pb.PaymentRequest(id=first.id, amount=5, payment_id="p-1"), metadata=key)
    reused = await failure(
        bank.deposit(pb.PaymentRequest(id=first.id, amount=6, payment_id="p-1"), metadata=key)
    )
    assert (reused.status, reused.code) == (INVALID, "idempotency_key_reused")
    assert await runtime.store.stream_version(first.id) == 2

    # a key is scoped to the method and the account: elsewhere it names another request
    withdrawn = await bank.withdraw(
        pb.PaymentRequest(id=first.id, amount=1, payment_id="p-2"), metadata=key
    )
    assert withdrawn.version == 3
    # the refused requests appended nothing
    events = await events_through(runtime.store, withdrawn.position)
    assert [(e.stream_id, e.version) for e in events] == [(first.id, v) for v in (1, 2, 3)]

    too_long = await failure(bank.open(metadata=(("idempotency-key", "k" * 256),)))
    assert (too_long.status, too_long.code) == (INVALID, "validation_error")


async def test_the_request_id_becomes_the_events_correlation_id(
    bank: BankAccountsClient, client: httpx.AsyncClient
) -> None:
    opened = await bank.open(metadata=(("x-request-id", "req-open-1"),))
    await bank.deposit(
        pb.PaymentRequest(id=opened.id, amount=5, payment_id="p-1"),
        metadata=(("x-request-id", "req-pay-1"),),
    )
    await bank.deposit(pb.PaymentRequest(id=opened.id, amount=6, payment_id="p-2"))
    await bank.deposit(pb.PaymentRequest(id=opened.id, amount=7, payment_id="p-3"))

    events = await events_of(client, opened.id)
    ids = [event["metadata"]["correlation_id"] for event in events]
    assert ids[:2] == ["req-open-1", "req-pay-1"]
    # without one, each call gets a fresh id of its own
    assert all(ids)
    assert len(set(ids)) == 4
    assert [event["metadata"]["command_type"] for event in events] == [
        "OpenAccount",
        "DepositMoney",
        "DepositMoney",
        "DepositMoney",
    ]


async def test_an_unusable_request_id_is_replaced_as_over_http(
    bank: BankAccountsClient, client: httpx.AsyncClient
) -> None:
    opened = await bank.open(metadata=(("x-request-id", "has spaces in it"),))
    await bank.deposit(
        pb.PaymentRequest(id=opened.id, amount=5, payment_id="p-1"),
        metadata=(("x-request-id", "r" * 129),),
    )
    events = await events_of(client, opened.id)
    ids = [event["metadata"]["correlation_id"] for event in events]
    assert "has spaces in it" not in ids
    assert all(0 < len(given) <= 128 for given in ids)

    over_http = await client.post(
        f"/api/v1/accounts/{opened.id}/deposit",
        json={"amount": 1, "paymentId": "p-2"},
        headers={"X-Request-ID": "has spaces in it"},
    )
    assert over_http.headers["X-Request-ID"] != "has spaces in it"


# -- the same service as over HTTP ----------------------------------------------------------


def as_http(account: pb.Account) -> dict[str, Any]:
    """The HTTP API's JSON for the account a gRPC answer describes."""
    return {
        "id": account.id,
        "email": account.email,
        "address": account.address,
        "firstName": account.first_name,
        "lastName": account.last_name,
        "balance": {"amount": account.balance.amount, "currency": account.balance.currency},
        "status": account.status,
        "version": account.version,
        "createdAt": account.created_at,
        "updatedAt": account.updated_at,
    }


async def test_grpc_and_http_serve_the_same_accounts(
    bank: BankAccountsClient, client: httpx.AsyncClient
) -> None:
    opened = await bank.open(
        email="grace@example.com", first_name="Grace", last_name="Hopper", currency="EUR"
    )
    paid = await bank.deposit(pb.PaymentRequest(id=opened.id, amount=42, payment_id="p-1"))

    over_grpc = await bank.get_account(
        pb.GetAccountRequest(id=opened.id, min_position=paid.position)
    )
    over_http = await client.get(
        f"/api/v1/accounts/{opened.id}", params={"minPosition": paid.position}
    )
    assert over_http.status_code == 200, over_http.text
    assert over_http.json() == as_http(over_grpc)
    assert over_http.json()["balance"] == {"amount": 1042, "currency": "EUR"}

    # and the other way round: written over HTTP, read over gRPC
    created = await client.post(
        "/api/v1/accounts",
        json={
            "email": "alan@example.com",
            "firstName": "Alan",
            "lastName": "Kay",
            "address": "1 Infinite Loop",
            "balance": 7,
        },
    )
    assert created.status_code == 201, created.text
    position = int(created.headers["ESKIT-Position"])
    read = await bank.get_account(
        pb.GetAccountRequest(id=created.json()["id"], min_position=position)
    )
    answer = await client.get(f"/api/v1/accounts/{read.id}")
    assert answer.json() == as_http(read)

    grpc_page = await bank.search_accounts(pb.SearchAccountsRequest(size=5, min_position=position))
    http_page = await client.get("/api/v1/accounts", params={"size": 5, "minPosition": position})
    assert http_page.json() == {
        "items": [as_http(item) for item in grpc_page.items],
        "page": grpc_page.page,
        "size": grpc_page.size,
        "total": grpc_page.total,
        "hasMore": grpc_page.has_more,
    }


async def test_errors_match_over_both_apis(
    bank: BankAccountsClient, client: httpx.AsyncClient
) -> None:
    opened = await bank.open(balance=10)
    over_grpc = await failure(
        bank.withdraw(pb.PaymentRequest(id=opened.id, amount=11, payment_id="p-1"))
    )
    over_http = await client.post(
        f"/api/v1/accounts/{opened.id}/withdraw", json={"amount": 11, "paymentId": "p-1"}
    )
    assert over_http.status_code == 409
    assert over_http.json()["error"]["code"] == over_grpc.code == "insufficient_funds"
    assert over_http.json()["error"]["message"] == over_grpc.details


async def test_an_unexpected_failure_is_internal_and_leaks_nothing(
    sql_store: EventStoreBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = BankAccounts(sql_store)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr(accounts.queries, "search", broken)
    server = create_server(grpc_handlers(accounts))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            failed = await failure(
                BankAccountsClient(channel).search_accounts(pb.SearchAccountsRequest())
            )
    finally:
        await server.stop(None)
    assert (failed.status, failed.code) == (grpc.StatusCode.INTERNAL, "internal_error")
    assert "secret" not in failed.details
