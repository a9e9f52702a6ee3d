"""Who is calling, as HTTP and gRPC both tell it: request ids and API keys."""

from __future__ import annotations

import hmac
import re
from collections.abc import Collection

from eskit.domain.ids import new_id

__all__ = ["ApiKeys", "bearer_token", "request_id_from"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(given: str | None) -> str:
    """The caller's request id if it is 1-128 of ``A-Za-z0-9._:-``, else a new UUIDv7."""
    return given if given and _REQUEST_ID.match(given) else new_id()


def bearer_token(value: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` value ("" if there is none)."""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class ApiKeys:
    """The configured API keys; empty means keys are off."""

    def __init__(self, keys: Collection[str]) -> None:
        self._keys = [key.encode() for key in keys]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def known(self, token: str) -> bool:
        """Whether ``token`` is one of the keys, compared in constant time against every key,
        so the time taken says nothing about which key is close."""
        found = False
        given = token.encode()
        for key in self._keys:
            found |= hmac.compare_digest(key, given)
        return found and bool(token)
