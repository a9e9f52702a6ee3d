"""What the HTTP and the gRPC API share: the checks of what callers send, and the shapes of
what they are answered with.

* No text a caller sends may hold a NUL character: no store could keep one (PostgreSQL text
  cannot), and no id, name or address has one.
* A moment (``asOf``) must fall within the years 1 to 9999 in UTC, where the stores compare
  moments.
* Searches are at most ``MAX_SEARCH_LENGTH`` characters, pages at most ``MAX_PAGE_SIZE``
  accounts.
* A read of an account as it was (``atVersion`` or ``asOf``) takes one of the two, and
  neither with ``minVersion`` or ``minPosition``, which wait for the read model of now
  (:func:`check_read_parameters`).
* An account is answered as :func:`account_view` shapes its document, a page of them as
  :func:`page_view` does: each API then spells the names its own way (camelCase in JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eskit.errors import ConflictingParametersError
from eskit.projections import SearchPage

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_SEARCH_LENGTH",
    "MOMENT_RULE",
    "NUL_RULE",
    "account_view",
    "check_read_parameters",
    "has_nul",
    "page_view",
    "within_utc_years",
]

NUL_RULE = "must not contain NUL characters"
MOMENT_RULE = "a moment within the years 1 to 9999 in UTC"
MAX_SEARCH_LENGTH = 200
MAX_PAGE_SIZE = 100


def has_nul(value: object) -> bool:
    """Whether ``value`` is a text with a NUL character in it."""
    return isinstance(value, str) and "\x00" in value


def within_utc_years(moment: datetime) -> bool:
    """Whether the (aware) ``moment`` falls within the years 1 to 9999 in UTC."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


_EXCLUSIVE = (
    ("at_version", "as_of"),
    ("at_version", "min_version"),
    ("at_version", "min_position"),
    ("as_of", "min_version"),
    ("as_of", "min_position"),
)
"""Read parameters that cannot be given together."""


def check_read_parameters(
    *,
    at_version: object,
    as_of: object,
    min_version: object,
    min_position: object,
    name: Callable[[str], str] = str,
    location: tuple[str, ...] = (),
) -> None:
    """Raises ConflictingParametersError naming each pair of the parameters given (not
    None) that cannot be combined, spelled by ``name`` (the API's spelling) at ``location``."""
    given = {
        "at_version": at_version,
        "as_of": as_of,
        "min_version": min_version,
        "min_position": min_position,
    }
    pairs = [
        (name(first), name(second))
        for first, second in _EXCLUSIVE
        if given[first] is not None and given[second] is not None
    ]
    if pairs:
        raise ConflictingParametersError(pairs, location=location)


def account_view(doc: dict[str, Any]) -> dict[str, Any]:
    """An account document as the APIs answer it."""
    return {
        "id": doc["account_id"],
        "email": doc["email"],
        "address": doc["address"],
        "first_name": doc["first_name"],
        "last_name": doc["last_name"],
        "balance": {"amount": doc["balance"], "currency": doc["currency"]},
        "status": doc["status"],
        "version": doc["version"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }


def page_view(found: SearchPage, *, page: int, size: int) -> dict[str, Any]:
    """Page ``page`` (of ``size`` accounts) of a search, as the APIs answer it."""
    return {
        "items": [account_view(item) for item in found.items],
        "page": page,
        "size": size,
        "total": found.total,
        "has_more": found.offset + len(found.items) < found.total,
    }
