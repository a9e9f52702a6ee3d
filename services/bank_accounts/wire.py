"""What the HTTP and the gRPC API share: the checks of what callers send, and the shapes of
what they are answered with.

* No text a caller sends may hold a NUL character: no store could keep one (PostgreSQL text
  cannot), and no id, name or address has one.
* A moment (``asOf``) must fall within the years 1 to 9999 in UTC, where the stores compare
  moments.
* Searches are at most ``MAX_SEARCH_LENGTH`` characters, pages at most ``MAX_PAGE_SIZE``
  accounts.
* An account is answered as :func:`account_view` shapes its document, a page of them as
  :func:`page_view` does: each API then spells the names its own way (camelCase in JSON).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eskit.projections import SearchPage

__all__ = [
    "MAX_PAGE_SIZE",
    "MAX_SEARCH_LENGTH",
    "MOMENT_RULE",
    "NUL_RULE",
    "account_view",
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
