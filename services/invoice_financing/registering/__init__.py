"""Registering: issuers and investors sign up; their events tell Financing about them."""

from invoice_financing.registering.app import (
    RegisteringHandlers,
    build_registering_handlers,
    registry,
)
from invoice_financing.registering.commands import RegisterInvestor, RegisterIssuer
from invoice_financing.registering.domain import (
    InvalidNameError,
    Investor,
    InvestorRegistered,
    Issuer,
    IssuerRegistered,
)

__all__ = [
    "InvalidNameError",
    "Investor",
    "InvestorRegistered",
    "Issuer",
    "IssuerRegistered",
    "RegisterInvestor",
    "RegisterIssuer",
    "RegisteringHandlers",
    "build_registering_handlers",
    "registry",
]
