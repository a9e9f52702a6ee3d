"""The commands: validated at the edge, listed in one tuple, each with one handler."""

import uuid
from datetime import date
from typing import Any

import pytest

from eskit.app import CommandHandler
from eskit.domain import Command
from eskit.errors import ConcurrencyError, InvalidCommandError
from eskit.store import InMemoryEventStore
from invoice_financing.commands import COMMANDS, build_handlers
from invoice_financing.financing import (
    AddIssuer,
    BidOnInvoice,
    CommitFunds,
    CurrencyMismatchError,
    DepositFunds,
    FinanceInvoice,
    InsufficientFundsError,
    OpenInvestorAccount,
    PutInvoiceForSale,
    ReleaseFunds,
    WithdrawFunds,
    WithdrawInvoice,
    build_financing_handlers,
)
from invoice_financing.registering import RegisterInvestor, RegisterIssuer

pytestmark = pytest.mark.unit


def test_every_command_is_listed_once_under_a_unique_name() -> None:
    assert set(COMMANDS) == {
        RegisterIssuer,
        RegisterInvestor,
        AddIssuer,
        OpenInvestorAccount,
        DepositFunds,
        WithdrawFunds,
        BidOnInvoice,
        ReleaseFunds,
        CommitFunds,
        PutInvoiceForSale,
        FinanceInvoice,
        WithdrawInvoice,
    }
    names = [command.__name__ for command in COMMANDS]
    assert len(names) == len(set(names)) == 12


def handles(handler: CommandHandler[Any], command_type: type[Command]) -> bool:
    try:
        handler.makes_new(command_type.model_construct())
    except TypeError:
        return False
    return True


def test_five_handlers_and_each_command_has_exactly_one() -> None:
    handlers = build_handlers(InMemoryEventStore())
    assert len(handlers) == 5
    for command_type in COMMANDS:
        owners = [h for h in handlers if handles(h, command_type)]
        assert len(owners) == 1, command_type.__name__
    streams = [h.repository.aggregate_type.stream_type for h in handlers]
    assert streams == [
        "registering.Issuer",
        "registering.Investor",
        "financing.Issuer",
        "financing.Investor",
        "financing.Invoice",
    ]


@pytest.mark.parametrize(
    ("command_type", "fields"),
    [
        (DepositFunds, {"amount": 0, "currency": "EUR"}),
        (DepositFunds, {"amount": -1, "currency": "EUR"}),
        (DepositFunds, {"amount": "10", "currency": "EUR"}),
        (DepositFunds, {"amount": 10, "currency": "XYZ"}),
        (DepositFunds, {"amount": 10}),
        (WithdrawFunds, {"amount": 0, "currency": "EUR"}),
        (BidOnInvoice, {"invoice_id": "i", "amount": 0, "currency": "EUR"}),
        (BidOnInvoice, {"invoice_id": "", "amount": 1, "currency": "EUR"}),
        (BidOnInvoice, {"invoice_id": "i", "amount": 1, "currency": "EUR", "bid_id": "nope"}),
        (ReleaseFunds, {"bid_id": str(uuid.uuid4()), "reason": "  "}),
        (CommitFunds, {"bid_id": "not-a-uuid"}),
        (PutInvoiceForSale, {"issuer_id": "s", "amount": 1, "currency": "EUR"}),
        (
            PutInvoiceForSale,
            {"issuer_id": "s", "amount": 1, "currency": "EUR", "due_date": "2030-02-30"},
        ),
        (FinanceInvoice, {"bid_id": str(uuid.uuid4()), "investor_id": "v", "amount": 0}),
        (WithdrawInvoice, {"reason": ""}),
        (AddIssuer, {"name": "Acme"}),
        (OpenInvestorAccount, {"name": "Ada"}),
        (OpenInvestorAccount, {"aggregate_id": "v", "name": "Ada", "currency": "eur"}),
    ],
)
def test_malformed_commands_are_refused(
    command_type: type[Command], fields: dict[str, object]
) -> None:
    with pytest.raises(InvalidCommandError):
        command_type.parse(fields)


def test_well_formed_commands_and_their_defaults() -> None:
    opened = OpenInvestorAccount.parse({"aggregate_id": "investor-1", "name": " Ada "})
    assert (opened.name, opened.currency) == ("Ada", "EUR")
    first = BidOnInvoice.parse(
        {"aggregate_id": "v", "invoice_id": "i", "amount": 5, "currency": "EUR"}
    )
    second = BidOnInvoice.parse(
        '{"aggregate_id": "v", "invoice_id": "i", "amount": 5, "currency": "EUR"}'
    )
    assert first.bid_id != second.bid_id
    assert first.bid_id.version == 7
    put = PutInvoiceForSale.parse(
        '{"issuer_id": "s", "amount": 100, "currency": "JPY", "due_date": "2030-01-31"}'
    )
    assert put.due_date == date(2030, 1, 31)
    assert put.aggregate_id  # a new invoice id


async def test_the_handlers_decide_on_the_stored_aggregates() -> None:
    financing = build_financing_handlers(InMemoryEventStore())
    await financing.investors.handle(
        OpenInvestorAccount(aggregate_id="investor-1", name="Ada", currency="EUR")
    )
    await financing.investors.handle(
        DepositFunds(aggregate_id="investor-1", amount=1000, currency="EUR")
    )
    with pytest.raises(CurrencyMismatchError):
        await financing.investors.handle(
            DepositFunds(aggregate_id="investor-1", amount=1, currency="USD")
        )
    bid_id = uuid.uuid4()
    bid = BidOnInvoice(
        aggregate_id="investor-1", invoice_id="invoice-1", amount=600, currency="EUR", bid_id=bid_id
    )
    reserved = await financing.investors.handle(bid)
    again = await financing.investors.handle(bid.model_copy(update={"command_id": uuid.uuid4()}))
    assert again.version == reserved.version == 3
    with pytest.raises(InsufficientFundsError):
        await financing.investors.handle(
            WithdrawFunds(aggregate_id="investor-1", amount=401, currency="EUR")
        )
    await financing.investors.handle(CommitFunds(aggregate_id="investor-1", bid_id=bid_id))
    account = await financing.investors.repository.load("investor-1")
    assert (account.available, account.reserved, account.financed) == (400, 0, 600)

    put = await financing.invoices.handle(
        PutInvoiceForSale(
            issuer_id="issuer-1", amount=600, currency="EUR", due_date=date(2030, 1, 1)
        )
    )
    await financing.invoices.handle(
        FinanceInvoice(
            aggregate_id=put.aggregate_id,
            bid_id=bid_id,
            investor_id="investor-1",
            amount=600,
            currency="EUR",
        )
    )
    invoice = await financing.invoices.repository.load(put.aggregate_id)
    assert (invoice.status, invoice.bid_id) == ("financed", str(bid_id))


async def test_adding_the_same_issuer_twice_is_a_concurrency_conflict() -> None:
    financing = build_financing_handlers(InMemoryEventStore())
    await financing.issuers.handle(AddIssuer(aggregate_id="issuer-1", name="Acme"))
    with pytest.raises(ConcurrencyError):
        await financing.issuers.handle(AddIssuer(aggregate_id="issuer-1", name="Acme"))
    # the same command again (a redelivery) answers its first outcome
    command = AddIssuer(aggregate_id="issuer-2", name="Beta")
    first = await financing.issuers.handle(command)
    repeat = await financing.issuers.handle(command)
    assert repeat.deduplicated
    assert (repeat.version, repeat.position) == (first.version, first.position)
