"""Financing's wiring: its event registry and one command handler per aggregate."""

from __future__ import annotations

from typing import NamedTuple, TypeVar

from eskit.app import CommandHandler, Repository
from eskit.domain import EventRegistry
from eskit.process import with_reactors
from eskit.store import EventStoreBackend, has_transactions
from invoice_financing.financing.commands import (
    AddIssuer,
    BidOnInvoice,
    CommitFunds,
    DepositFunds,
    FinanceInvoice,
    OpenInvestorAccount,
    PutInvoiceForSale,
    ReleaseFunds,
    WithdrawFunds,
    WithdrawInvoice,
)
from invoice_financing.financing.domain import (
    BidRejected,
    FinancingIssuer,
    FundsCommitted,
    FundsDeposited,
    FundsReleased,
    FundsReserved,
    FundsWithdrawn,
    InvestorAccount,
    InvestorAccountOpened,
    Invoice,
    InvoiceFinanced,
    InvoicePutForSale,
    InvoiceWithdrawn,
    IssuerAdded,
)
from invoice_financing.financing.reactors import InvoiceMustExist, IssuerMustBeKnown

__all__ = ["FinancingHandlers", "build_financing_handlers", "registry"]

A = TypeVar("A", FinancingIssuer, InvestorAccount, Invoice)

registry = EventRegistry(
    [
        IssuerAdded,
        InvestorAccountOpened,
        FundsDeposited,
        FundsWithdrawn,
        FundsReserved,
        FundsReleased,
        FundsCommitted,
        InvoicePutForSale,
        InvoiceFinanced,
        BidRejected,
        InvoiceWithdrawn,
    ]
)
"""Every event Financing records."""


class FinancingHandlers(NamedTuple):
    """Financing's command handlers, one per aggregate type."""

    issuers: CommandHandler[FinancingIssuer]
    investors: CommandHandler[InvestorAccount]
    invoices: CommandHandler[Invoice]


def build_financing_handlers(
    store: EventStoreBackend, *, snapshot_every: int | None = None, cache_size: int = 1024
) -> FinancingHandlers:
    """The handlers of Financing's commands over ``store``.

    ``snapshot_every`` overrides the aggregates' own setting (investor accounts keep a
    snapshot every 100 events).
    """

    def repository(aggregate_type: type[A]) -> Repository[A]:
        return Repository(store, aggregate_type, registry, snapshot_every=snapshot_every)

    issuers = CommandHandler(repository(FinancingIssuer), cache_size=cache_size)
    # a bid's reservation needs its invoice: checked in the append's transaction
    investor_store = (
        with_reactors(store, [InvoiceMustExist()]) if has_transactions(store) else store
    )
    investors = CommandHandler(
        Repository(investor_store, InvestorAccount, registry, snapshot_every=snapshot_every),
        cache_size=cache_size,
    )
    # the issuer check runs in each invoice append's transaction (stores that have them)
    invoice_store = (
        with_reactors(store, [IssuerMustBeKnown()]) if has_transactions(store) else store
    )
    invoices = CommandHandler(
        Repository(invoice_store, Invoice, registry, snapshot_every=snapshot_every),
        cache_size=cache_size,
    )

    @issuers.creates(AddIssuer)
    def add_issuer(command: AddIssuer) -> FinancingIssuer:
        return FinancingIssuer.add(command.aggregate_id, name=command.name)

    @investors.creates(OpenInvestorAccount)
    def open_account(command: OpenInvestorAccount) -> InvestorAccount:
        return InvestorAccount.open(
            command.aggregate_id, name=command.name, currency=command.currency
        )

    @investors.updates(DepositFunds)
    def deposit(account: InvestorAccount, command: DepositFunds) -> None:
        account.deposit(command.amount, command.currency)

    @investors.updates(WithdrawFunds)
    def withdraw(account: InvestorAccount, command: WithdrawFunds) -> None:
        account.withdraw(command.amount, command.currency)

    @investors.updates(BidOnInvoice)
    def bid(account: InvestorAccount, command: BidOnInvoice) -> None:
        account.bid(str(command.bid_id), command.invoice_id, command.amount, command.currency)

    @investors.updates(ReleaseFunds)
    def release(account: InvestorAccount, command: ReleaseFunds) -> None:
        account.release(str(command.bid_id), command.reason)

    @investors.updates(CommitFunds)
    def commit(account: InvestorAccount, command: CommitFunds) -> None:
        account.commit(str(command.bid_id))

    @invoices.creates(PutInvoiceForSale)
    def put_for_sale(command: PutInvoiceForSale) -> Invoice:
        return Invoice.put_for_sale(
            command.aggregate_id,
            issuer_id=command.issuer_id,
            amount=command.amount,
            currency=command.currency,
            due_date=command.due_date,
        )

    @invoices.updates(FinanceInvoice)
    def finance(invoice: Invoice, command: FinanceInvoice) -> None:
        invoice.finance(str(command.bid_id), command.investor_id, command.amount, command.currency)

    @invoices.updates(WithdrawInvoice)
    def withdraw_invoice(invoice: Invoice, command: WithdrawInvoice) -> None:
        invoice.withdraw(command.reason)

    return FinancingHandlers(issuers, investors, invoices)
