"""Event metadata: who caused an event, in answer to what, within which trace."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, TypedDict

from eskit.domain.commands import Command
from eskit.observability.tracing import inject

__all__ = [
    "FINGERPRINT_KEY",
    "EventMetadata",
    "api_key_actor",
    "caller_metadata",
    "command_metadata",
]

FINGERPRINT_KEY = "request_fingerprint"
"""The metadata entry that keeps the fingerprint of the request that caused an event."""


class EventMetadata(TypedDict, total=False):
    """The keys eskit writes into each event's metadata; callers may add their own."""

    correlation_id: str
    """Shared by everything one request set off (the HTTP request id, for instance)."""
    causation_id: str
    """The id of the command (or event) that directly caused this event."""
    command_type: str
    actor: str
    """Who asked: a user, an API key name, a service."""
    traceparent: str
    """W3C trace context of the span that wrote the event, when tracing is on."""
    tracestate: str


def caller_metadata(request_id: str, actor: str = "") -> EventMetadata:
    """The metadata a request gives the events it causes: its id as their correlation id,
    and who asked (left out when ``actor`` is "")."""
    metadata: EventMetadata = {"correlation_id": request_id}
    if actor:
        metadata["actor"] = actor
    return metadata


def command_metadata(command: Command, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Metadata for the events of ``command``: the caller's, plus causation and correlation.

    The causation id is always the command id; the correlation id is the caller's if given,
    else the command id, so a chain of commands can be followed from its first request.
    """
    metadata: dict[str, Any] = dict(given or {})
    metadata["causation_id"] = str(command.command_id)
    metadata["command_type"] = type(command).__name__
    metadata.setdefault("correlation_id", str(command.command_id))
    inject(metadata)  # the span handling the command, when tracing is on
    return metadata


def api_key_actor(key: str) -> str:
    """The actor name of a caller known by an API key: a short, non-reversible fingerprint."""
    return "api-key:" + hashlib.sha256(key.encode()).hexdigest()[:12]
