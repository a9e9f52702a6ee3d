"""Registering's commands, validated at the edge."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from eskit.domain import Command
from invoice_financing.registering.domain import MAX_NAME_LENGTH

__all__ = ["Name", "RegisterInvestor", "RegisterIssuer"]

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH)
]
"""A participant's name: stripped, 1 to 200 characters."""


class RegisterIssuer(Command):
    """Sign an issuer up (its id is the command's ``aggregate_id``, new unless given)."""

    name: Name


class RegisterInvestor(Command):
    """Sign an investor up (its id is the command's ``aggregate_id``, new unless given)."""

    name: Name
