"""What travels on the bus: a message going out, and one delivered to a consumer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Delivery", "OutgoingMessage"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message to publish.

    ``message_id`` is its identity for deduplication (an event's id); ``key`` orders it:
    messages of one key are delivered in the order they were published (a stream's id).
    ``stream_type`` picks the topic or subject with the bus's ``Topology``.
    """

    message_id: str
    stream_type: str
    key: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message handed to a consumer, to be acknowledged or given back.

    ``attempt`` counts deliveries of this message to its group, 1 the first time, as far
    as the broker (or, on Kafka, the consumer's own process) knows. ``handle`` is the
    adapter's own token for acknowledging it; treat it as opaque.
    """

    message_id: str
    topic: str
    key: str
    body: bytes
    headers: Mapping[str, str]
    attempt: int
    handle: object = field(compare=False, repr=False)
