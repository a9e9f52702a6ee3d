"""The bus port: publish batches in order, consume them in groups, acknowledge each.

Delivery is at least once on every adapter: a message a consumer did not acknowledge is
delivered again, to it or to another member of its group. What a consumer does about the
duplicates that follows from (an inbox of handled message ids committed with its writes) is
the consumer's side, not the bus's.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.messaging.topology import Topology

__all__ = ["Bus", "BusConsumer"]


@runtime_checkable
class BusConsumer(Protocol):
    """One member of a consumer group, used as an async context manager.

    Messages of one key reach the group in the order they were published; on a bus that
    ``keeps_key_order`` they also reach one member at a time, so that member sees them in that
    order; elsewhere a member may get a key's later message while another holds an earlier
    one (the consumers' stream-order check is for that). A member sees a message again
    until it is acknowledged; ``retry_later`` gives one back for another
    attempt, which on an ordered (Kafka) partition also holds back the messages after it.
    """

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def fetch(self, max_messages: int, timeout_s: float) -> Sequence[Delivery]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s`` for the first."""
        ...

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge handled messages: the group will not see them again."""
        ...

    async def retry_later(self, delivery: Delivery, delay_s: float) -> None:
        """Give ``delivery`` back, to be delivered again after about ``delay_s``."""
        ...


@runtime_checkable
class Bus(Protocol):
    """A message broker, reached through one client per process."""

    topology: Topology
    keeps_key_order: bool
    """True if a key's messages reach one member of a group at a time, in order (Kafka's
    partitions); False if members share them message by message (JetStream, in process)."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send ``messages`` and return once the broker acknowledged every one of them.

        Messages of one key are stored in the order given. Raises ``BusUnavailableError``
        when the broker does not acknowledge them all; some may have been stored, so a
        caller sends the batch again (at least once), and the broker or the consumers drop
        what they have already seen by ``message_id``.
        """
        ...

    def consumer(self, group: str, stream_types: Sequence[str]) -> BusConsumer:
        """A member of ``group`` reading the messages of ``stream_types``.

        Each group receives every message; the members of one group share them.
        """
        ...

    async def close(self) -> None:
        """Release the connections this bus holds."""
        ...
