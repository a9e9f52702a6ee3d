"""Registering's domain: issuers and investors sign up under a name.

Registering owns who the participants are; the events it records are the integration
events other contexts (Financing) learn of them by.
"""

from __future__ import annotations

from typing import Self

from eskit.domain import Aggregate, applies
from eskit.errors import DomainError
from invoice_financing.published import (
    REGISTRATION_PREFIX,
    InvestorRegistered,
    IssuerRegistered,
    participant_id,
    registration_stream,
)

__all__ = [
    "MAX_NAME_LENGTH",
    "REGISTRATION_PREFIX",
    "InvalidNameError",
    "Investor",
    "InvestorRegistered",
    "Issuer",
    "IssuerRegistered",
    "check_name",
    "participant_id",
    "registration_stream",
]

MAX_NAME_LENGTH = 200
"""The longest name a participant may sign up under, in characters."""


# -- errors --------------------------------------------------------------------------


class InvalidNameError(DomainError):
    """A name that is empty once stripped, or longer than :data:`MAX_NAME_LENGTH`."""

    code = "invalid_name"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is not a valid name: 1 to {MAX_NAME_LENGTH} characters")
        self.name = name


def check_name(name: str) -> str:
    """The name, stripped, if it has 1 to :data:`MAX_NAME_LENGTH` characters."""
    stripped = name.strip()
    if not 1 <= len(stripped) <= MAX_NAME_LENGTH:
        raise InvalidNameError(name)
    return stripped


# -- events --------------------------------------------------------------------------


# -- aggregates ----------------------------------------------------------------------


class Issuer(Aggregate):
    """A company that sells its invoices."""

    stream_type = "registering.Issuer"

    name: str = ""

    @classmethod
    def register(cls, issuer_id: str, *, name: str) -> Self:
        """A new issuer; raises InvalidNameError for an unusable name."""
        issuer = cls(id=issuer_id)
        issuer.record(IssuerRegistered(name=check_name(name)))
        return issuer

    @applies(IssuerRegistered)
    def _registered(self, event: IssuerRegistered) -> None:
        self.name = event.name


class Investor(Aggregate):
    """Someone who finances invoices."""

    stream_type = "registering.Investor"

    name: str = ""

    @classmethod
    def register(cls, investor_id: str, *, name: str) -> Self:
        """A new investor; raises InvalidNameError for an unusable name."""
        investor = cls(id=investor_id)
        investor.record(InvestorRegistered(name=check_name(name)))
        return investor

    @applies(InvestorRegistered)
    def _registered(self, event: InvestorRegistered) -> None:
        self.name = event.name
