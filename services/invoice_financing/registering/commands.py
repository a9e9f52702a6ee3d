"""Registering's commands, validated at the edge."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from eskit.domain import Command, new_id
from invoice_financing.registering.domain import MAX_NAME_LENGTH, registration_stream

__all__ = ["Name", "RegisterInvestor", "RegisterIssuer"]

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
]
"""A participant's name: stripped, 1 to 200 characters."""


def _new_registration() -> str:
    return registration_stream(new_id())


class RegisterIssuer(Command):
    """Sign an issuer up (``aggregate_id``: its registration stream, ``registration-<new
    id>`` unless given)."""

    aggregate_id: str = Field(default_factory=_new_registration, min_length=1, max_length=200)
    name: Name


class RegisterInvestor(Command):
    """Sign an investor up (``aggregate_id``: its registration stream, ``registration-<new
    id>`` unless given)."""

    aggregate_id: str = Field(default_factory=_new_registration, min_length=1, max_length=200)
    name: Name
