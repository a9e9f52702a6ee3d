"""The gRPC API through the generated stubs, against two real servers over a SQLite store:
commands on one port, queries on another.

Commands are queued: a test hands them to a queue worker and runs the projections and the
sagas (``settle``) where a running service would do both in the background. The bus is not
part of these tests: what Financing's consumer does on a registration (``AddIssuer``,
``OpenInvestorAccount``) is handled directly through the dispatcher.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol, cast

import grpc
import grpc.aio
import pytest
from google.protobuf.message import Message

from eskit.grpc import ERROR_CODE_KEY, ERROR_DETAILS_KEY, create_server
from eskit.process import QueueWorker
from eskit.projections import ProjectionRunner
from eskit.store import SQLiteEventStore
from invoice_financing.app import InvoiceFinancing
from invoice_financing.financing.commands import AddIssuer, OpenInvestorAccount, WithdrawInvoice
from invoice_financing.financing.sagas import sagas
from invoice_financing.grpc_api import command_handlers, query_handlers
from invoice_financing.projections import projections
from invoice_financing.proto import invoice_financing_pb2 as pb
from invoice_financing.proto import invoice_financing_pb2_grpc as pb_grpc
from invoice_financing.published import registration_stream

pytestmark = pytest.mark.integration

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
DUE = (date.today() + timedelta(days=60)).isoformat()

Unary = grpc.aio.UnaryUnaryMultiCallable


class CommandsStub(Protocol):
    """``FinancingCommandsStub`` as the tests use it (the generated stub is untyped)."""

    RegisterIssuer: Unary[pb.RegisterIssuerRequest, pb.CommandAccepted]
    RegisterInvestor: Unary[pb.RegisterInvestorRequest, pb.CommandAccepted]
    DepositFunds: Unary[pb.DepositFundsRequest, pb.CommandAccepted]
    WithdrawFunds: Unary[pb.WithdrawFundsRequest, pb.CommandAccepted]
    PutInvoiceForSale: Unary[pb.PutInvoiceForSaleRequest, pb.CommandAccepted]
    BidOnInvoice: Unary[pb.BidOnInvoiceRequest, pb.CommandAccepted]
    GetCommand: Unary[pb.GetCommandRequest, pb.CommandStatus]


class QueriesStub(Protocol):
    """``FinancingQueriesStub`` as the tests use it."""

    GetInvoice: Unary[pb.GetInvoiceRequest, pb.Invoice]
    ListInvoices: Unary[pb.ListInvoicesRequest, pb.InvoicePage]
    GetInvestor: Unary[pb.GetInvestorRequest, pb.Investor]
    ListInvestors: Unary[pb.ListInvestorsRequest, pb.InvestorPage]
    GetBid: Unary[pb.GetBidRequest, pb.Bid]
    ListIssuers: Unary[pb.ListIssuersRequest, pb.IssuerPage]


def eur(amount: int) -> pb.Money:
    return pb.Money(amount=amount, currency="EUR")


@dataclass
class Financing:
    """The service's two gRPC servers over one store, their stubs, and what a running
    service would do in the background: the queue's worker, the projections and sagas."""

    app: InvoiceFinancing
    commands: CommandsStub
    queries: QueriesStub
    worker: QueueWorker
    runner: ProjectionRunner

    async def settle(self) -> None:
        """Handle every queued command and project every event, until nothing is left (a
        saga answers an event with a command, whose events it may answer again)."""
        while True:
            await self.runner.catch_up()
            if not await self.worker.drain():
                return

    async def status(self, accepted: pb.CommandAccepted) -> pb.CommandStatus:
        return await self.commands.GetCommand(pb.GetCommandRequest(command_id=accepted.command_id))

    async def done(self, accepted: pb.CommandAccepted) -> pb.CommandStatus:
        """Settle, then the command's status, which must be ``done``."""
        await self.settle()
        status = await self.status(accepted)
        assert status.status == "done", status
        return status

    async def issuer(self, name: str = "Acme") -> str:
        """A registered issuer Financing knows (its consumer's part done directly)."""
        accepted = await self.commands.RegisterIssuer(pb.RegisterIssuerRequest(name=name))
        await self.done(accepted)
        await self.app.dispatcher.handle(AddIssuer(aggregate_id=accepted.aggregate_id, name=name))
        return accepted.aggregate_id

    async def investor(self, name: str = "Ada", deposit: int = 0) -> str:
        """A registered investor with an account in Financing, ``deposit`` paid in."""
        accepted = await self.commands.RegisterInvestor(pb.RegisterInvestorRequest(name=name))
        await self.done(accepted)
        await self.app.dispatcher.handle(
            OpenInvestorAccount(aggregate_id=accepted.aggregate_id, name=name)
        )
        if deposit:
            request = pb.DepositFundsRequest(investor_id=accepted.aggregate_id, amount=eur(deposit))
            await self.done(await self.commands.DepositFunds(request))
        return accepted.aggregate_id

    async def invoice(self, issuer_id: str, amount: int = 10_000, due: str = DUE) -> str:
        request = pb.PutInvoiceForSaleRequest(issuer_id=issuer_id, amount=eur(amount), due_date=due)
        accepted = await self.commands.PutInvoiceForSale(request)
        await self.done(accepted)
        return accepted.aggregate_id

    async def bid(self, investor_id: str, invoice_id: str, amount: int) -> str:
        bid_id = str(uuid.uuid4())
        request = pb.BidOnInvoiceRequest(
            investor_id=investor_id, invoice_id=invoice_id, amount=eur(amount), bid_id=bid_id
        )
        await self.done(await self.commands.BidOnInvoice(request))
        return bid_id


FinancingFactory = Callable[..., Awaitable[Financing]]


@pytest.fixture
async def make_financing(sqlite_store: SQLiteEventStore) -> AsyncIterator[FinancingFactory]:
    """Start the service's gRPC servers (commands, queries) on free loopback ports, over
    an application made with ``options``; everything is stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(**options: Any) -> Financing:
            app = InvoiceFinancing(sqlite_store, **options)
            channels = []
            for handlers in (command_handlers(app), query_handlers(app)):
                server = create_server(handlers)
                port = server.add_insecure_port("127.0.0.1:0")
                await server.start()
                stack.push_async_callback(server.stop, None)
                channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
                stack.push_async_callback(channel.close)
                channels.append(channel)
            commands_stub: Any = pb_grpc.FinancingCommandsStub  # untyped generated code
            queries_stub: Any = pb_grpc.FinancingQueriesStub
            runner = ProjectionRunner(sqlite_store, [*projections(), *sagas()])
            await runner.prepare()
            return Financing(
                app,
                cast(CommandsStub, commands_stub(channels[0])),
                cast(QueriesStub, queries_stub(channels[1])),
                QueueWorker(sqlite_store, app.dispatcher),
                runner,
            )

        yield start


@pytest.fixture
async def financing(make_financing: FinancingFactory) -> Financing:
    return await make_financing()


@dataclass(frozen=True)
class Failure:
    """How a call failed: its status, the eskit error code, and the error's details."""

    status: grpc.StatusCode
    code: str | None
    message: str
    error: dict[str, Any]
    trailers: dict[str, str]

    def bad_fields(self) -> set[str]:
        """Each field the details name, its path joined by dots (``amount.currency``)."""
        return {".".join(str(part) for part in d["loc"]) for d in self.error["details"] or ()}


async def failure(call: Awaitable[Message]) -> Failure:
    """The failure of ``call``, which must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    error = caught.value
    trailers = {k: v for k, v in error.trailing_metadata() or () if isinstance(v, str)}
    details = trailers.get(ERROR_DETAILS_KEY)
    return Failure(
        error.code(),
        trailers.get(ERROR_CODE_KEY),
        error.details() or "",
        json.loads(details) if details else {},
        trailers,
    )


async def queue_is_empty(financing: Financing) -> bool:
    return not await financing.app.queue.store.committed.queue.list()


# -- commands ------------------------------------------------------------------------------


async def test_a_registration_is_accepted_queued_then_done(
    financing: Financing, sqlite_store: SQLiteEventStore
) -> None:
    accepted = await financing.commands.RegisterIssuer(pb.RegisterIssuerRequest(name=" Acme "))

    command_id = uuid.UUID(accepted.command_id)
    assert accepted.status_url == f"/api/v1/commands/{command_id}"
    assert accepted.aggregate_id
    assert not accepted.aggregate_id.startswith("registration-")  # the issuer's own id
    queued = await financing.status(accepted)
    assert (queued.command_id, queued.status, queued.attempts) == (str(command_id), "queued", 0)
    assert queued.aggregate_id == accepted.aggregate_id
    assert (queued.version, queued.position, queued.error_code) == (0, 0, "")

    done = await financing.done(accepted)
    assert (done.attempts, done.version, done.aggregate_id) == (1, 1, accepted.aggregate_id)
    [event] = await sqlite_store.read_stream(registration_stream(accepted.aggregate_id))
    assert (event.event_type, event.data["name"], event.position) == (
        "registering.IssuerRegistered",
        "Acme",
        done.position,
    )

    investor = await financing.commands.RegisterInvestor(pb.RegisterInvestorRequest(name="Ada"))
    registered = await financing.done(investor)
    assert registered.aggregate_id == investor.aggregate_id != accepted.aggregate_id
    assert registered.position > done.position


async def test_every_money_command_is_accepted_and_done(financing: Financing) -> None:
    issuer = await financing.issuer()
    investor = await financing.investor()
    commands = financing.commands

    deposit = await commands.DepositFunds(
        pb.DepositFundsRequest(investor_id=investor, amount=eur(50_000))
    )
    withdrawal = await commands.WithdrawFunds(
        pb.WithdrawFundsRequest(investor_id=investor, amount=eur(5_000))
    )
    assert (deposit.aggregate_id, withdrawal.aggregate_id) == (investor, investor)
    deposited = await financing.done(deposit)
    withdrawn = await financing.done(withdrawal)
    assert (deposited.version, withdrawn.version) == (2, 3)

    put = await commands.PutInvoiceForSale(
        pb.PutInvoiceForSaleRequest(issuer_id=issuer, amount=eur(30_000), due_date=DUE)
    )
    assert put.aggregate_id not in (issuer, investor)  # the new invoice's id
    on_sale = await financing.done(put)
    assert (on_sale.aggregate_id, on_sale.version) == (put.aggregate_id, 1)

    bid_id = str(uuid.uuid4())
    bid = await commands.BidOnInvoice(
        pb.BidOnInvoiceRequest(
            investor_id=investor, invoice_id=put.aggregate_id, amount=eur(30_000), bid_id=bid_id
        )
    )
    assert bid.aggregate_id == investor
    reserved = await financing.done(bid)  # then the saga finances the invoice and commits

    queries = financing.queries
    account = await queries.GetInvestor(
        pb.GetInvestorRequest(id=investor, min_position=reserved.position)
    )
    assert (account.available, account.reserved, account.financed) == (15_000, 0, 30_000)
    invoice = await queries.GetInvoice(pb.GetInvoiceRequest(id=put.aggregate_id))
    assert (invoice.status, invoice.investor_id, invoice.bid_id) == ("financed", investor, bid_id)
    financed = await queries.GetBid(pb.GetBidRequest(bid_id=bid_id))
    assert (financed.status, financed.amount, financed.reason) == ("financed", 30_000, "")


async def test_a_bid_without_a_bid_id_gets_a_new_one(financing: Financing) -> None:
    investor = await financing.investor(deposit=10_000)
    invoice = await financing.invoice(await financing.issuer(), amount=10_000)
    request = pb.BidOnInvoiceRequest(investor_id=investor, invoice_id=invoice, amount=eur(10_000))

    await financing.done(await financing.commands.BidOnInvoice(request))

    row = await financing.queries.GetInvoice(pb.GetInvoiceRequest(id=invoice))
    assert row.status == "financed"
    assert uuid.UUID(row.bid_id).version == 7


@pytest.mark.parametrize(
    ("make", "code"),
    [
        ("withdraw_too_much", "insufficient_funds"),
        ("bid_too_much", "insufficient_funds"),
        ("deposit_dollars", "currency_mismatch"),
        ("invoice_of_unknown_issuer", "unknown_issuer"),
        ("deposit_to_nobody", "not_found"),
    ],
)
async def test_a_refused_command_names_the_business_error(
    financing: Financing, make: str, code: str
) -> None:
    investor = await financing.investor(deposit=1_000)
    invoice = await financing.invoice(await financing.issuer(), amount=5_000)
    commands = financing.commands
    calls: dict[str, Callable[[], Awaitable[pb.CommandAccepted]]] = {
        "withdraw_too_much": lambda: commands.WithdrawFunds(
            pb.WithdrawFundsRequest(investor_id=investor, amount=eur(1_001))
        ),
        "bid_too_much": lambda: commands.BidOnInvoice(
            pb.BidOnInvoiceRequest(investor_id=investor, invoice_id=invoice, amount=eur(5_000))
        ),
        "deposit_dollars": lambda: commands.DepositFunds(
            pb.DepositFundsRequest(
                investor_id=investor, amount=pb.Money(amount=100, currency="USD")
            )
        ),
        "invoice_of_unknown_issuer": lambda: commands.PutInvoiceForSale(
            pb.PutInvoiceForSaleRequest(issuer_id="nobody", amount=eur(100), due_date=DUE)
        ),
        "deposit_to_nobody": lambda: commands.DepositFunds(
            pb.DepositFundsRequest(investor_id="nobody", amount=eur(100))
        ),
    }

    accepted = await calls[make]()  # accepted: the business rule is the worker's to apply
    await financing.settle()
    refused = await financing.status(accepted)

    assert (refused.status, refused.error_code, refused.attempts) == ("refused", code, 1)
    assert refused.error_message
    assert (refused.version, refused.position) == (0, 0)
    assert refused.aggregate_id == accepted.aggregate_id
    account = await financing.queries.GetInvestor(pb.GetInvestorRequest(id=investor))
    assert (account.available, account.reserved, account.financed) == (1_000, 0, 0)


async def test_insufficient_funds_is_told_with_the_balance(financing: Financing) -> None:
    investor = await financing.investor(deposit=2_500)
    accepted = await financing.commands.WithdrawFunds(
        pb.WithdrawFundsRequest(investor_id=investor, amount=eur(4_000))
    )
    await financing.settle()

    refused = await financing.status(accepted)
    assert (refused.status, refused.error_code) == ("refused", "insufficient_funds")
    assert refused.error_message == f"investor {investor} has 2500 available, asked for 4000"


INVALID_REQUESTS: list[tuple[str, Message, set[str]]] = [
    ("RegisterIssuer", pb.RegisterIssuerRequest(name="   "), {"name"}),
    ("RegisterInvestor", pb.RegisterInvestorRequest(name="x" * 201), {"name"}),
    ("RegisterInvestor", pb.RegisterInvestorRequest(name="Ada\x00"), {"name"}),
    (
        "DepositFunds",
        pb.DepositFundsRequest(investor_id="", amount=pb.Money(amount=0, currency="XXY")),
        {"investor_id", "amount.amount", "amount.currency"},
    ),
    (
        "DepositFunds",
        pb.DepositFundsRequest(investor_id="i-1"),
        {"amount.amount", "amount.currency"},
    ),
    (
        "WithdrawFunds",
        pb.WithdrawFundsRequest(investor_id="i-1", amount=eur(-5)),
        {"amount.amount"},
    ),
    (
        "PutInvoiceForSale",
        pb.PutInvoiceForSaleRequest(issuer_id="", amount=eur(100), due_date="tomorrow"),
        {"issuer_id", "due_date"},
    ),
    (
        "PutInvoiceForSale",
        pb.PutInvoiceForSaleRequest(issuer_id="s-1", amount=eur(100), due_date="1700000000"),
        {"due_date"},
    ),
    (
        "PutInvoiceForSale",
        pb.PutInvoiceForSaleRequest(issuer_id="s-1", amount=eur(100), due_date="2030-02-30"),
        {"due_date"},
    ),
    (
        "BidOnInvoice",
        pb.BidOnInvoiceRequest(investor_id="i-1", invoice_id="", amount=eur(1), bid_id="nope"),
        {"invoice_id", "bid_id"},
    ),
    ("GetCommand", pb.GetCommandRequest(command_id="nope"), {"command_id"}),
]


@pytest.mark.parametrize(
    ("method", "request_", "fields"),
    INVALID_REQUESTS,
    ids=[f"{m}-{n}" for n, (m, _, _) in enumerate(INVALID_REQUESTS)],
)
async def test_bad_fields_end_the_call_with_invalid_argument(
    financing: Financing, method: str, request_: Message, fields: set[str]
) -> None:
    failed = await failure(getattr(financing.commands, method)(request_))

    assert (failed.status, failed.code) == (INVALID, "validation_error")
    assert failed.error["code"] == "validation_error"
    assert failed.bad_fields() == fields
    assert failed.message.startswith("invalid ")
    assert await queue_is_empty(financing)  # nothing was queued


async def test_unknown_command_id_is_not_found(financing: Financing) -> None:
    unknown = str(uuid.uuid4())
    failed = await failure(financing.commands.GetCommand(pb.GetCommandRequest(command_id=unknown)))

    assert (failed.status, failed.code) == (NOT_FOUND, "command_not_found")
    assert unknown in failed.message


async def test_a_full_queue_ends_the_call_with_resource_exhausted(
    make_financing: FinancingFactory,
) -> None:
    financing = await make_financing(max_waiting=1)
    await financing.commands.RegisterIssuer(pb.RegisterIssuerRequest(name="Acme"))

    failed = await failure(financing.commands.RegisterIssuer(pb.RegisterIssuerRequest(name="B")))

    assert (failed.status, failed.code) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "queue_full")
    assert failed.trailers["retry-after"] == "1"
    await financing.settle()  # room again, once the queue reads its depth anew
    await asyncio.sleep(financing.app.queue.depth_ttl_s * 2)
    await financing.commands.RegisterIssuer(pb.RegisterIssuerRequest(name="B"))


async def test_an_idempotency_key_queues_a_command_once(financing: Financing) -> None:
    commands = financing.commands
    request = pb.RegisterIssuerRequest(name="Acme")
    first = await commands.RegisterIssuer(request, metadata=(("idempotency-key", "k-1"),))
    again = await commands.RegisterIssuer(request, metadata=(("idempotency-key", "k-1"),))
    other = await commands.RegisterIssuer(request, metadata=(("idempotency-key", "k-2"),))

    assert (again.command_id, again.aggregate_id) == (first.command_id, first.aggregate_id)
    assert other.command_id != first.command_id
    assert len(await financing.app.queue.store.committed.queue.list()) == 2

    too_long = await failure(
        commands.RegisterIssuer(request, metadata=(("idempotency-key", "k" * 256),))
    )
    assert (too_long.status, too_long.bad_fields()) == (INVALID, {"idempotency-key"})


# -- queries -------------------------------------------------------------------------------


async def test_invoices_by_id_status_issuer_and_page(financing: Financing) -> None:
    acme, bolt = await financing.issuer("Acme"), await financing.issuer("Bolt")
    today = date.today()
    dues = [(today + timedelta(days=d)).isoformat() for d in (90, 30, 60, 120)]
    a = await financing.invoice(acme, 1_000, dues[0])
    b = await financing.invoice(acme, 2_000, dues[1])
    c = await financing.invoice(bolt, 3_000, dues[2])
    d = await financing.invoice(acme, 4_000, dues[3])
    investor = await financing.investor(deposit=10_000)
    bid_id = await financing.bid(investor, b, 2_000)
    await financing.app.dispatcher.handle(WithdrawInvoice(aggregate_id=d, reason="paid"))
    await financing.settle()
    queries = financing.queries

    invoice = await queries.GetInvoice(pb.GetInvoiceRequest(id=b))
    assert (invoice.id, invoice.issuer_id, invoice.amount) == (b, acme, eur(2_000))
    assert (invoice.due_date, invoice.status) == (dues[1], "financed")
    assert (invoice.investor_id, invoice.bid_id) == (investor, bid_id)
    assert invoice.updated_at.endswith("Z")
    unsold = await queries.GetInvoice(pb.GetInvoiceRequest(id=a))
    assert (unsold.status, unsold.investor_id, unsold.bid_id) == ("for_sale", "", "")

    every = await queries.ListInvoices(pb.ListInvoicesRequest())
    assert [i.id for i in every.items] == [b, c, a, d]  # soonest due first
    assert (every.page, every.size, every.total, every.has_more) == (1, 10, 4, False)

    async def ids(**fields: Any) -> list[str]:
        page = await queries.ListInvoices(pb.ListInvoicesRequest(**fields))
        return [i.id for i in page.items]

    assert await ids(status="for_sale") == [c, a]
    assert await ids(status="financed") == [b]
    assert await ids(status="withdrawn") == [d]
    assert await ids(issuer_id=acme) == [b, a, d]
    assert await ids(status="for_sale", issuer_id=acme) == [a]
    assert await ids(issuer_id="nobody") == []

    second = await queries.ListInvoices(pb.ListInvoicesRequest(page=2, size=3))
    assert [i.id for i in second.items] == [d]
    assert (second.page, second.size, second.total, second.has_more) == (2, 3, 4, False)
    first = await queries.ListInvoices(pb.ListInvoicesRequest(page=1, size=3))
    assert (len(first.items), first.has_more) == (3, True)


async def test_investors_issuers_and_bids(financing: Financing) -> None:
    await financing.issuer("Bolt")
    await financing.issuer("Acme")
    issuer = (await financing.queries.ListIssuers(pb.ListIssuersRequest())).items[0].id
    zoe = await financing.investor("Zoe", deposit=8_000)
    ada = await financing.investor("Ada", deposit=6_000)
    invoice = await financing.invoice(issuer, amount=5_000)
    won = await financing.bid(ada, invoice, 5_000)
    lost = await financing.bid(zoe, invoice, 5_000)  # too late: compensated
    queries = financing.queries

    issuers = await queries.ListIssuers(pb.ListIssuersRequest())
    assert [i.name for i in issuers.items] == ["Acme", "Bolt"]  # by name
    assert (issuers.page, issuers.size, issuers.total, issuers.has_more) == (1, 10, 2, False)
    one = await queries.ListIssuers(pb.ListIssuersRequest(page=2, size=1))
    assert ([i.name for i in one.items], one.has_more) == (["Bolt"], False)

    investors = await queries.ListInvestors(pb.ListInvestorsRequest())
    assert [(i.id, i.name) for i in investors.items] == [(ada, "Ada"), (zoe, "Zoe")]
    assert (investors.total, investors.has_more) == (2, False)
    first = await queries.ListInvestors(pb.ListInvestorsRequest(size=1))
    assert ([i.name for i in first.items], first.has_more) == (["Ada"], True)

    winner = await queries.GetInvestor(pb.GetInvestorRequest(id=ada))
    assert (winner.name, winner.currency) == ("Ada", "EUR")
    assert (winner.available, winner.reserved, winner.financed) == (1_000, 0, 5_000)
    loser = await queries.GetInvestor(pb.GetInvestorRequest(id=zoe))
    assert (loser.available, loser.reserved, loser.financed) == (8_000, 0, 0)

    financed = await queries.GetBid(pb.GetBidRequest(bid_id=won))
    assert (financed.bid_id, financed.invoice_id, financed.investor_id) == (won, invoice, ada)
    assert (financed.amount, financed.status, financed.reason) == (5_000, "financed", "")
    released = await queries.GetBid(pb.GetBidRequest(bid_id=lost))
    assert (released.investor_id, released.amount) == (zoe, 5_000)
    assert (released.status, released.reason) == ("released", "already_financed")


async def test_min_position_reads_your_writes(financing: Financing) -> None:
    investor = await financing.investor(deposit=1_000)
    accepted = await financing.commands.DepositFunds(
        pb.DepositFundsRequest(investor_id=investor, amount=eur(500))
    )
    await financing.worker.drain()  # handled, not projected yet
    done = await financing.status(accepted)
    assert done.status == "done"
    queries = financing.queries

    stale = await queries.GetInvestor(pb.GetInvestorRequest(id=investor))
    assert stale.available == 1_000  # the read model follows a little behind

    fresh = asyncio.ensure_future(
        queries.GetInvestor(pb.GetInvestorRequest(id=investor, min_position=done.position))
    )
    listed = asyncio.ensure_future(
        queries.ListInvestors(pb.ListInvestorsRequest(min_position=done.position))
    )
    await asyncio.sleep(0.05)
    assert not fresh.done()  # waiting for the read model
    await financing.runner.catch_up()
    assert (await fresh).available == 1_500
    assert [i.available for i in (await listed).items] == [1_500]

    at_zero = await queries.GetInvestor(pb.GetInvestorRequest(id=investor, min_position=0))
    assert at_zero.available == 1_500


async def test_every_query_waits_for_min_position(financing: Financing) -> None:
    issuer = await financing.issuer()
    investor = await financing.investor(deposit=1_000)
    invoice = await financing.invoice(issuer, amount=1_000)
    bid_id = await financing.bid(investor, invoice, 1_000)
    head = await financing.app.store.last_position()
    queries = financing.queries

    calls: list[Awaitable[Message]] = [
        queries.GetInvoice(pb.GetInvoiceRequest(id=invoice, min_position=head)),
        queries.ListInvoices(pb.ListInvoicesRequest(min_position=head)),
        queries.GetInvestor(pb.GetInvestorRequest(id=investor, min_position=head)),
        queries.ListInvestors(pb.ListInvestorsRequest(min_position=head)),
        queries.GetBid(pb.GetBidRequest(bid_id=bid_id, min_position=head)),
        queries.ListIssuers(pb.ListIssuersRequest(min_position=head)),
    ]
    answers = await asyncio.gather(*calls)
    assert [type(a).__name__ for a in answers] == [
        "Invoice",
        "InvoicePage",
        "Investor",
        "InvestorPage",
        "Bid",
        "IssuerPage",
    ]


async def test_a_read_model_behind_min_position_ends_with_deadline_exceeded(
    make_financing: FinancingFactory,
) -> None:
    financing = await make_financing(consistency_timeout_s=0.2)
    investor = await financing.investor()
    beyond = await financing.app.store.last_position() + 100

    failed = await failure(
        financing.queries.GetInvestor(pb.GetInvestorRequest(id=investor, min_position=beyond))
    )
    assert (failed.status, failed.code) == (grpc.StatusCode.DEADLINE_EXCEEDED, "not_caught_up")


@pytest.mark.parametrize(
    ("method", "request_", "what"),
    [
        ("GetInvoice", pb.GetInvoiceRequest(id="nope"), "invoice"),
        ("GetInvestor", pb.GetInvestorRequest(id="nope"), "investor"),
        ("GetBid", pb.GetBidRequest(bid_id="nope"), "bid"),
    ],
)
async def test_unknown_ids_are_not_found(
    financing: Financing, method: str, request_: Message, what: str
) -> None:
    failed = await failure(getattr(financing.queries, method)(request_))

    assert (failed.status, failed.code) == (NOT_FOUND, "not_found")
    assert what in failed.message


@pytest.mark.parametrize(
    ("method", "request_", "fields"),
    [
        ("GetInvoice", pb.GetInvoiceRequest(id=""), {"id"}),
        ("GetInvestor", pb.GetInvestorRequest(id="i", min_position=-1), {"min_position"}),
        ("GetBid", pb.GetBidRequest(bid_id="x" * 201), {"bid_id"}),
        ("ListInvoices", pb.ListInvoicesRequest(status="sold"), {"status"}),
        ("ListInvoices", pb.ListInvoicesRequest(issuer_id="x" * 201), {"issuer_id"}),
        ("ListInvoices", pb.ListInvoicesRequest(page=-1, size=101), {"page", "size"}),
        ("ListInvoices", pb.ListInvoicesRequest(page=20_000, size=100), {"page"}),
        (
            "ListInvestors",
            pb.ListInvestorsRequest(size=-3, min_position=-1),
            {"size", "min_position"},
        ),
        ("ListIssuers", pb.ListIssuersRequest(page=-2), {"page"}),
        ("GetInvoice", pb.GetInvoiceRequest(id="a\x00b"), {"id"}),
    ],
)
async def test_bad_query_fields_end_the_call_with_invalid_argument(
    financing: Financing, method: str, request_: Message, fields: set[str]
) -> None:
    failed = await failure(getattr(financing.queries, method)(request_))

    assert (failed.status, failed.code) == (INVALID, "validation_error")
    assert failed.bad_fields() == fields
