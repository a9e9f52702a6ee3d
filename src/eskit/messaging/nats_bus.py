"""The NATS JetStream adapter of the bus port, on nats-py.

Every subject under the prefix lives in one JetStream stream. Each message carries its id
as ``Nats-Msg-Id``, so the server drops a message sent again within the stream's duplicate
window: a relay that crashed after publishing and before moving its checkpoint sends its
batch again and the consumers never see the copies. A consumer group is a durable pull
consumer; its members share its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from eskit.messaging.errors import BusUnavailableError
from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.messaging.topology import Topology

__all__ = ["JetStreamBus"]

MESSAGE_ID = "Nats-Msg-Id"


class JetStreamBus:
    """A bus on a NATS server with JetStream enabled."""

    keeps_key_order = False
    """See ``Bus.keeps_key_order``."""

    def __init__(
        self,
        url: str,
        topology: Topology | None = None,
        *,
        duplicate_window_s: float = 120.0,
        ack_wait_s: float = 30.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.topology = topology or Topology()
        self.url = url
        self.duplicate_window_s = duplicate_window_s
        self.ack_wait_s = ack_wait_s
        self.timeout_s = timeout_s
        self._client: Client | None = None
        self._stream_ready = False
        self.duplicates_dropped = 0
        """Messages the server recognised as sent before and did not store again."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send ``messages`` and wait until the server acknowledged every one."""
        try:
            await asyncio.wait_for(self._publish(messages), self.timeout_s)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise BusUnavailableError(
                f"NATS at {self.url} did not acknowledge {len(messages)} message(s): {exc!r}"
            ) from exc

    async def _publish(self, messages: Sequence[OutgoingMessage]) -> None:
        js = await self.jetstream()
        pending = [
            await js.publish_async(
                self.topology.subject(m.stream_type, m.key),
                m.body,
                headers={**m.headers, MESSAGE_ID: m.message_id},
            )
            for m in messages
        ]
        acks = await asyncio.gather(*pending)
        self.duplicates_dropped += sum(1 for ack in acks if ack.duplicate)

    async def jetstream(self) -> JetStreamContext:
        """The JetStream context, connecting and creating the stream on first use."""
        if self._client is None or self._client.is_closed:
            self._client = await nats.connect(
                self.url,
                connect_timeout=self.timeout_s,
                max_reconnect_attempts=-1,
                allow_reconnect=True,
            )
            self._stream_ready = False
        js = self._client.jetstream(timeout=self.timeout_s)
        if not self._stream_ready:
            await js.add_stream(
                StreamConfig(
                    name=self.topology.stream_name,
                    subjects=[self.topology.subject_filter()],
                    duplicate_window=self.duplicate_window_s,
                    storage=StorageType.FILE,
                )
            )
            self._stream_ready = True
        return js

    def consumer(self, group: str, stream_types: Sequence[str]) -> JetStreamConsumer:
        """A member of the durable consumer ``group`` reading ``stream_types``."""
        filters = sorted({self.topology.subject_filter(t) for t in stream_types})
        return JetStreamConsumer(self, group, filters)

    async def close(self) -> None:
        """Drain and close the connection."""
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            await client.drain()


class JetStreamConsumer:
    """A member of a JetStream durable pull consumer; see ``BusConsumer``."""

    def __init__(self, bus: JetStreamBus, group: str, filters: list[str]) -> None:
        self._bus = bus
        self._group = _durable_name(group)
        self._filters = filters
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._held: dict[int, Msg] = {}

    async def __aenter__(self) -> Self:
        js = await self._bus.jetstream()
        stream = self._bus.topology.stream_name
        config = ConsumerConfig(
            durable_name=self._group,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._bus.ack_wait_s,
            max_ack_pending=10_000,
            filter_subjects=self._filters,
        )
        try:
            await js.add_consumer(stream, config)
            self._subscription = await js.pull_subscribe_bind(self._group, stream=stream)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            raise BusUnavailableError(f"NATS consumer {self._group!r}: {exc!r}") from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        subscription, self._subscription = self._subscription, None
        held, self._held = list(self._held.values()), {}
        with contextlib.suppress(nats.errors.Error, OSError):
            # given back at once, as a Kafka member's partitions are when it leaves, rather
            # than after the ack wait runs out
            await asyncio.gather(*(message.nak() for message in held))
        if subscription is not None:
            # if the connection is gone, the server lets the ack wait run out instead
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def fetch(self, max_messages: int, timeout_s: float) -> Sequence[Delivery]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s`` for the first."""
        try:
            messages = await self._ready().fetch(max_messages, timeout=max(timeout_s, 0.001))
        except (nats.errors.TimeoutError, TimeoutError):
            return []  # nothing arrived in time
        except (nats.errors.Error, OSError) as exc:
            raise BusUnavailableError(f"NATS consumer {self._group!r}: {exc!r}") from exc
        self._held.update((id(m), m) for m in messages)
        return [_delivery(m) for m in messages]

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge handled messages."""
        for delivery in deliveries:
            self._held.pop(id(_msg(delivery)), None)
        try:
            await asyncio.gather(*(_msg(d).ack() for d in deliveries))
        except (nats.errors.Error, OSError) as exc:
            raise BusUnavailableError(f"NATS ack of {self._group!r}: {exc!r}") from exc

    async def retry_later(self, delivery: Delivery, delay_s: float) -> None:
        """Give ``delivery`` back; the server delivers it again after ``delay_s``.

        JetStream redelivers it alone: messages of the same key published after it may
        reach the group first.
        """
        message = _msg(delivery)
        self._held.pop(id(message), None)
        await message.nak(delay=delay_s)

    def _ready(self) -> JetStreamContext.PullSubscription:
        if self._subscription is None:
            raise RuntimeError("use the consumer inside 'async with'")
        return self._subscription


def _durable_name(group: str) -> str:
    # durable names may not hold '.', '*', '>' or white space
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in group)


def _delivery(message: Msg) -> Delivery:
    headers: dict[str, Any] = dict(message.headers or {})
    message_id = str(headers.pop(MESSAGE_ID, ""))
    subject_parts = message.subject.split(".")
    return Delivery(
        message_id=message_id,
        topic=message.subject,
        key=_unescape(subject_parts[-1]),
        body=message.data,
        headers={str(k): str(v) for k, v in headers.items()},
        attempt=message.metadata.num_delivered,
        handle=message,
    )


def _unescape(token: str) -> str:
    if "~" not in token:
        return token
    out = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "~":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out += token[i].encode()
            i += 1
    return out.decode()


def _msg(delivery: Delivery) -> Msg:
    handle = delivery.handle
    if not isinstance(handle, Msg):
        raise TypeError(f"{delivery.message_id}: not a delivery of this bus")
    return handle
