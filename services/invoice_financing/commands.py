"""Every command of the service, and every command handler, in one place.

``COMMANDS`` lists the command classes of both contexts (their class names are unique
across the service, so a command can be named by its class); :func:`build_handlers` makes
the five command handlers, one per aggregate type, each handling its own commands.
"""

from __future__ import annotations

from typing import Any

from eskit.app import CommandHandler
from eskit.domain import Command
from eskit.store import EventStoreBackend
from invoice_financing.financing.app import build_financing_handlers
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
from invoice_financing.registering.app import build_registering_handlers
from invoice_financing.registering.commands import RegisterInvestor, RegisterIssuer

__all__ = ["COMMANDS", "build_handlers"]

COMMANDS: tuple[type[Command], ...] = (
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
)
"""Every command class of the service: Registering's, then Financing's."""


def build_handlers(
    store: EventStoreBackend, *, snapshot_every: int | None = None, cache_size: int = 1024
) -> tuple[CommandHandler[Any], ...]:
    """The five command handlers over ``store``: Registering's issuers and investors, then
    Financing's issuers, investor accounts and invoices."""
    return (
        *build_registering_handlers(store, cache_size=cache_size),
        *build_financing_handlers(store, snapshot_every=snapshot_every, cache_size=cache_size),
    )
