"""What the work in hand concerns, for log records: a request, a command, an event.

Code that does the work binds a few fields for as long as it runs::

    with log_context(projection=worker.name):
        ...  # every record logged in here, by any logger, carries projection=...

The fields live in one context variable, so they follow the work across ``await``\\ s and
into the tasks it starts, and never leak into other requests. Binding costs one context
variable set (a small dict copied); nothing is formatted until a record is actually
logged. :mod:`eskit.observability.logs` adds the fields to each record; without it they
are simply not read.

This module imports nothing of eskit, so that every layer may bind fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType

__all__ = ["CONTEXT_FIELDS", "context_fields", "log_context"]

CONTEXT_FIELDS = (
    "request_id",
    "correlation_id",
    "stream_id",
    "position",
    "projection",
    "consumer",
    "relay",
)
"""The fields :func:`log_context` binds, in the order a text log line shows them."""

FieldValue = str | int

_EMPTY: Mapping[str, FieldValue] = MappingProxyType({})
_fields: ContextVar[Mapping[str, FieldValue]] = ContextVar("eskit_log_context", default=_EMPTY)


def context_fields() -> Mapping[str, FieldValue]:
    """The fields bound in the current context (an empty mapping when none is)."""
    return _fields.get()


class log_context:  # noqa: N801 - used like a function: ``with log_context(...)``
    """Bind log fields (of :data:`CONTEXT_FIELDS`) while the ``with`` block runs.

    Fields given as None or "" are left as they were; inner bindings win over outer ones
    and are undone on exit. Raises ValueError for a field not in :data:`CONTEXT_FIELDS`
    (a typo would otherwise vanish from every log line silently).
    """

    __slots__ = ("_given", "_token")

    def __init__(self, **fields: FieldValue | None) -> None:
        unknown = fields.keys() - _KNOWN
        if unknown:
            raise ValueError(f"unknown log context fields: {', '.join(sorted(unknown))}")
        self._given = {k: v for k, v in fields.items() if v is not None and v != ""}
        self._token: Token[Mapping[str, FieldValue]] | None = None

    def __enter__(self) -> None:
        if self._given:
            self._token = _fields.set({**_fields.get(), **self._given})

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _fields.reset(self._token)
            self._token = None


_KNOWN = frozenset(CONTEXT_FIELDS)
