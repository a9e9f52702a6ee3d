"""Registering's wiring: its event registry and one command handler per aggregate."""

from __future__ import annotations

from typing import NamedTuple

from eskit.app import CommandHandler, Repository
from eskit.domain import EventRegistry
from eskit.store import EventStoreBackend
from invoice_financing.registering.commands import RegisterInvestor, RegisterIssuer
from invoice_financing.registering.domain import (
    Investor,
    InvestorRegistered,
    Issuer,
    IssuerRegistered,
)

__all__ = ["RegisteringHandlers", "build_registering_handlers", "registry"]

registry = EventRegistry([IssuerRegistered, InvestorRegistered])
"""Every event Registering records."""


class RegisteringHandlers(NamedTuple):
    """Registering's command handlers, one per aggregate type."""

    issuers: CommandHandler[Issuer]
    investors: CommandHandler[Investor]


def build_registering_handlers(
    store: EventStoreBackend, *, cache_size: int = 1024
) -> RegisteringHandlers:
    """The handlers of ``RegisterIssuer`` and ``RegisterInvestor`` over ``store``."""
    issuers: CommandHandler[Issuer] = CommandHandler(
        Repository(store, Issuer, registry), cache_size=cache_size
    )
    investors: CommandHandler[Investor] = CommandHandler(
        Repository(store, Investor, registry), cache_size=cache_size
    )

    @issuers.creates(RegisterIssuer)
    def register_issuer(command: RegisterIssuer) -> Issuer:
        return Issuer.register(command.aggregate_id, name=command.name)

    @investors.creates(RegisterInvestor)
    def register_investor(command: RegisterInvestor) -> Investor:
        return Investor.register(command.aggregate_id, name=command.name)

    return RegisteringHandlers(issuers, investors)
