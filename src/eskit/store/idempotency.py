"""Deciding whether a repeated append is the same append, shared by every adapter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from eskit.errors import DuplicateEventError
from eskit.store.encoding import EncodedEvent
from eskit.store.records import AppendResult, StoredEvent

__all__ = ["original_outcome"]


def original_outcome(
    stream_id: str, batch: Sequence[EncodedEvent], stored: Sequence[StoredEvent]
) -> AppendResult | None:
    """The result of the earlier append of ``batch``, if these ids were stored by it.

    Returns None when no id of the batch is stored (the append is new). Raises
    DuplicateEventError when only some are, or when they belong to another stream or type:
    a client reusing ids for different events must hear about it, not get a silent no-op.
    """
    if not stored:
        return None
    by_id: dict[uuid.UUID, StoredEvent] = {e.event_id: e for e in stored}
    for event in batch:
        found = by_id.get(event.event_id)
        if found is None:
            raise DuplicateEventError(
                str(next(iter(by_id))), "the append mixes stored and new event ids"
            )
        if found.stream_id != stream_id:
            raise DuplicateEventError(
                str(event.event_id), f"it belongs to stream {found.stream_id!r}"
            )
        if found.event_type != event.event_type:
            raise DuplicateEventError(
                str(event.event_id), f"it was stored as a {found.event_type!r} event"
            )
    last = max(stored, key=lambda e: e.version)
    return AppendResult(stream_id, last.version, last.position, deduplicated=True)
