"""The published language between the two contexts: what Registering tells the world.

Registering records these events and the relay publishes them; Financing's consumer reads
them from the bus. Neither context imports the other: both import this module, the
contract between them (changing it is changing what other services may read too).
"""

from __future__ import annotations

from eskit.domain import Event

__all__ = [
    "REGISTRATION_PREFIX",
    "InvestorRegistered",
    "IssuerRegistered",
    "participant_id",
    "registration_stream",
]

REGISTRATION_PREFIX = "registration-"
"""Registering's streams are named ``registration-<participant id>``: the participant's own
id names its account in Financing, and one store holds both contexts' streams."""


def registration_stream(participant_id: str) -> str:
    """The stream of a participant's registration."""
    return REGISTRATION_PREFIX + participant_id


def participant_id(stream_id: str) -> str:
    """The participant a registration stream belongs to."""
    return stream_id.removeprefix(REGISTRATION_PREFIX)


class IssuerRegistered(Event):
    """An issuer signed up: it may put invoices up for sale."""

    event_type = "registering.IssuerRegistered"
    name: str


class InvestorRegistered(Event):
    """An investor signed up: it may finance invoices."""

    event_type = "registering.InvestorRegistered"
    name: str
